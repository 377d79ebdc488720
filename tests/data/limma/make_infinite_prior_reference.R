# R limma reference for eBayes with an infinite prior df (residual variances no more spread than chance), which
# inmoose 0.9.1's eBayes cannot take (a KeyError; lsecflow.limma_robust.ebayes replaces it). Run from the
# repository root:
#   Rscript tests/data/limma/make_infinite_prior_reference.R
# (R 4.2.2, limma 3.54.1). The first 8 complete proteins of the UPS1 median matrix (ups1_prep.R, median
# centring as make_reference.R), lmFit(~ group) + eBayes(trend = TRUE): df.prior is Inf. Writes
#   ups1.infinite_prior.tsv   protein_ids, s2_prior, df_prior, df_total, s2_post, t, P.Value, B (coefficient 2)
suppressPackageStartupMessages(library(limma))

source("tests/data/limma/ups1_prep.R")
med <- apply(x, 2, median, na.rm = TRUE)
x_median <- sweep(x, 2, med, "-") + mean(med)
x8 <- head(x_median[complete.cases(x_median), ], 8)
fit <- eBayes(lmFit(x8, model.matrix(~ group)), trend = TRUE)
stopifnot(is.infinite(fit$df.prior))
res <- data.frame(protein_ids = rownames(x8), s2_prior = fit$s2.prior, df_prior = fit$df.prior,
                  df_total = fit$df.total, s2_post = fit$s2.post, t = fit$t[, 2], P.Value = fit$p.value[, 2],
                  B = fit$lods[, 2], check.names = FALSE)
write.table(format(res, digits = 15), "tests/data/limma/ups1.infinite_prior.tsv", sep = "\t", quote = FALSE,
            row.names = FALSE)
cat(sprintf("ups1.infinite_prior.tsv: %d proteins, df.prior %s\n", nrow(res), fit$df.prior))
