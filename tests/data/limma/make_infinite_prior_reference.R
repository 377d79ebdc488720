# R limma references for eBayes(trend = TRUE) on a handful of proteins (a small array), where the prior df is
# infinite (residual variances no more spread than chance) and, for 3 proteins, the trend's natural spline has
# no interior knot: inmoose 0.9.1's eBayes stopped at the first (a KeyError; lsecflow.limma_robust.ebayes
# replaces it) and its splines::ns at the second ("Problem with covariate"; lsecflow.fdist
# mends it). Run from the repository root:
#   Rscript tests/data/limma/make_infinite_prior_reference.R
# (R 4.2.2, limma 3.54.1). The first 8 (and 3) complete proteins of the UPS1 median matrix (ups1_prep.R, median
# centring as make_reference.R), lmFit(~ group) + eBayes(trend = TRUE): df.prior is Inf. Writes
#   ups1.infinite_prior.tsv    (8 proteins) and
#   ups1.infinite_prior_3.tsv  (3 proteins): protein_ids, s2_prior, df_prior, df_total, s2_post, t, P.Value, B
#                              (coefficient 2)
suppressPackageStartupMessages(library(limma))

source("tests/data/limma/ups1_prep.R")
med <- apply(x, 2, median, na.rm = TRUE)
x_median <- sweep(x, 2, med, "-") + mean(med)
complete <- x_median[complete.cases(x_median), ]
for (k in c(8, 3)) {
  xk <- head(complete, k)
  fit <- eBayes(lmFit(xk, model.matrix(~ group)), trend = TRUE)
  stopifnot(is.infinite(fit$df.prior))
  res <- data.frame(protein_ids = rownames(xk), s2_prior = fit$s2.prior, df_prior = fit$df.prior,
                    df_total = fit$df.total, s2_post = fit$s2.post, t = fit$t[, 2], P.Value = fit$p.value[, 2],
                    B = fit$lods[, 2], check.names = FALSE)
  file <- if (k == 8) "ups1.infinite_prior.tsv" else sprintf("ups1.infinite_prior_%d.tsv", k)
  write.table(format(res, digits = 15), file.path("tests/data/limma", file), sep = "\t", quote = FALSE,
              row.names = FALSE)
  cat(sprintf("%s: %d proteins, df.prior %s\n", file, nrow(res), fit$df.prior))
}
