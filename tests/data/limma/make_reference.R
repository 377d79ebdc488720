# R limma references for lsecflow's proteomics path, made from the UPS1
# spike-in table shipped in resources/data/ups1_spikein (GPL-2).
# Run from the repository root:
#   Rscript tests/data/limma/make_reference.R
# (R 4.2.2, limma 3.54.1: apt-get install r-base-core r-bioc-limma)
# Writes, beside this script, one table per variant (one row per kept protein
# group, input order):
#   ups1.median.tsv.gz        reference preprocessing (0 -> NA, log2, >= 2 values
#                          in each group, median centring), lmFit + eBayes()
#   ups1.treat.tsv.gz         the same fit, treat(lfc = 0.5) / topTreat
#   ups1.trend.tsv.gz      the same matrix, eBayes(trend = TRUE)
#   ups1.robust.tsv.gz     the same matrix, eBayes(robust = TRUE)
#   ups1.robust_trend.tsv.gz  the same matrix, eBayes(trend = TRUE, robust = TRUE)
#   ups1.robust_trend_df0.tsv.gz  median matrix with proteins 1-4 down to one value per group (no
#                          residual df: their prior scale is interpolated along the trend),
#                          lmFit(~ group) + eBayes(trend = TRUE, robust = TRUE), coefficient 2
#   ups1.lmfit_robust.tsv.gz  lmFit(method = "robust") (MASS::rlm, Huber) + eBayes() on the median matrix
#   ups1.lmfit_robust_df0.tsv.gz  the robust lmFit on the matrix of ups1.robust_trend_df0 (proteins 1-4:
#                          two values for two coefficients, not fitted), lmFit(~ group) + eBayes(),
#                          coefficient 2
#   ups1.lods.tsv.gz       B (eBayes's lods) of coefficient 2 of lmFit(x_median, ~ group) with eBayes(),
#                          trend, robust and both (columns plain, trend, robust, robust_trend)
#   lowess.tsv.gz          a seeded x (ties: one decimal) and y (5 % outliers) with loessFit(y, x,
#                          span = 0.4)$fitted and lowess(x, y)$y (R's defaults), for lsecflow's lowess
#   ups1.quantile.tsv.gz      normalizeQuantiles() instead of median centring
#   ups1.quantile_matrix.tsv.gz  the quantile-normalised matrix itself
#   ups1.rank_deficient.tsv.gz  median matrix with the first 3 proteins missing in
#                          every fmol25 run (their fmol25 coefficient is not
#                          estimable), lmFit(~ group) + eBayes(), coefficient 2
#   ups1.deqms.tsv.gz      DEqMS: spectraCounteBayes(fit, fit.method = "loess") on the fit of
#                          ups1.median, count = MaxQuant's 'Razor + unique peptides'
#   ups1.deqms_nls.tsv.gz  the same, fit.method = "nls"
#   ups1.deqms_zero.tsv.gz  loess, the counts of proteins 1-5 set to 0 and 1 added to every count
#                          (DEqMS's vignette: "add pseudocount 1 to all proteins")
#   ups1.cyclicloess_matrix.tsv.gz  normalizeCyclicLoess() (method "fast", span 0.7, 3 iterations) of the
#                          filtered log2 matrix instead of median centring, and
#   ups1.cyclicloess.tsv.gz   lmFit + eBayes() on it
#   ups1.knn.tsv.gz        impute::impute.knn(k = 10) of the median matrix (193 missing values)
#   ups1.knn_sparse_input.tsv.gz  the median matrix with 1,500 more cells removed (seeded; 15 proteins then
#                          miss more than half their values: R's mean imputation), and
#   ups1.knn_sparse.tsv.gz  its impute.knn(k = 10)
#   ups1.mindet.tsv.gz     imputeLCMD's impute.MinDet(q = 0.01) of the median matrix (its code, below:
#                          imputeLCMD 2.1 needs packages Debian lacks), and
#   ups1.minprob_sd.tsv    impute.MinProb's SD of the draws for q = 0.01, tune.sigma = 1 and 2
#                          (apt-get install r-bioc-impute)
#   ups1.array_weights.tsv  arrayWeights(x_median, ~ group) (method "auto": gene by gene, the matrix has missing
#                          values) and arrayWeights of its complete rows (auto: REML)
#   ups1.sample_weights.tsv.gz  lmFit(x_median, ~ group, weights = those) + eBayes(), coefficient 2
#   ups1.sample_weights_deqms.tsv.gz  DEqMS (loess, 'Razor + unique peptides') on that weighted fit
#   ups1.sample_weights_block.tsv.gz  the same with block = the sheet's replicate column: duplicateCorrelation(weights =
#                          the sample weights), lmFit(block, correlation, weights) + eBayes(); the consensus
#   ups1.qrilc.tsv         imputeLCMD's impute.QRILC estimation for each sample of the median matrix (its code,
#                          below): fraction missing, mean and SD of the quantile regression, truncation point
#   ups1.qrilc_draws.tsv.gz  20,000 of impute.QRILC's draws for the first sample (tmvtnorm 1.5 rtmvnorm, Gibbs,
#                          set.seed(1); apt-get install r-cran-tmvtnorm)
#   ups1.mar_mnar_knn.tsv.gz  imputeLCMD's impute.MAR.MNAR (KNN + QRILC), its deterministic part (its code, below):
#                          model.Selector's flag per protein (column mar: 1 = missing at random) and the matrix after
#                          impute.knn(k = 15, rowmax = 0.99, colmax = 0.99) of the flagged proteins
#   ups1.f_batch_group.tsv.gz  the moderated F test of both coefficients of ~ batch + group on the median
#                          matrix (batch SYNTHETIC: replicate 3 of each group "b", the others "a"),
#                          eBayes() then topTable(coef = 2:3): limma's classifyTestsF, with missing values
#                          (some proteins' batch coefficient is not estimable: F NA)
# DEqMS is not packaged for Debian: it is installed from its source (github yafeng/DEqMS @b2c7a6e,
# Bioconductor's DEqMS 1.25; the later commit 45f8a3f does not parse) with R CMD INSTALL, after
# apt-get install r-cran-ggplot2 r-cran-matrixstats.
suppressPackageStartupMessages(library(limma))

out_dir <- "tests/data/limma"
source("tests/data/limma/ups1_prep.R")
med <- apply(x, 2, median, na.rm = TRUE)
x_median <- sweep(x, 2, med, "-") + mean(med)
x_quantile <- normalizeQuantiles(x)

design <- model.matrix(~ 0 + group)
colnames(design) <- levels(group)
cm <- makeContrasts(fmol25 - fmol10, levels = design)

write_tt <- function(fit, file, treat = FALSE) {
  tt <- if (treat) topTreat(fit, coef = 1, number = Inf, sort.by = "none")
        else topTable(fit, coef = 1, number = Inf, sort.by = "none")
  stopifnot(identical(rownames(tt), rownames(fit$coefficients)))
  res <- data.frame(protein_ids = rownames(tt), logFC = tt$logFC, AveExpr = tt$AveExpr, t = tt$t,
                    P.Value = tt$P.Value, adj.P.Val = tt$adj.P.Val,
                    df_total = fit$df.total, s2_post = fit$s2.post,
                    df_prior = rep_len(fit$df.prior, nrow(tt)), check.names = FALSE)
  gz <- gzfile(file.path(out_dir, file), "w")
  write.table(format(res, digits = 15), gz, sep = "\t", quote = FALSE, row.names = FALSE)
  close(gz)
  cat(sprintf("%s: %d proteins, %d at adj.P < 0.05\n", file, nrow(res), sum(res$adj.P.Val < 0.05)))
}

fit_median <- contrasts.fit(lmFit(x_median, design), cm)
write_tt(eBayes(fit_median), "ups1.median.tsv.gz")
write_tt(treat(fit_median, lfc = 0.5), "ups1.treat.tsv.gz", treat = TRUE)
write_tt(eBayes(fit_median, trend = TRUE), "ups1.trend.tsv.gz")
write_tt(eBayes(fit_median, robust = TRUE), "ups1.robust.tsv.gz")
write_tt(eBayes(fit_median, trend = TRUE, robust = TRUE), "ups1.robust_trend.tsv.gz")
write_tt(eBayes(contrasts.fit(lmFit(x_quantile, design), cm)), "ups1.quantile.tsv.gz")
x_cyclic <- normalizeCyclicLoess(x)
write_tt(eBayes(contrasts.fit(lmFit(x_cyclic, design), cm)), "ups1.cyclicloess.tsv.gz")
x_rd <- x_median
x_rd[1:3, group == "fmol25"] <- NA
fit_rd <- eBayes(lmFit(x_rd, model.matrix(~ group)))
rd <- data.frame(protein_ids = rownames(x_rd), logFC = fit_rd$coefficients[, 2],
                 se_unscaled = fit_rd$stdev.unscaled[, 2], sigma = fit_rd$sigma, df_residual = fit_rd$df.residual,
                 t = fit_rd$t[, 2], P.Value = fit_rd$p.value[, 2], s2_post = fit_rd$s2.post, check.names = FALSE)
gz <- gzfile(file.path(out_dir, "ups1.rank_deficient.tsv.gz"), "w")
write.table(format(rd, digits = 15), gz, sep = "\t", quote = FALSE, row.names = FALSE, na = "NA")
close(gz)
x_df0 <- x_median
for (g in levels(group)) x_df0[1:4, which(group == g)[-1]] <- NA
fit_df0 <- eBayes(lmFit(x_df0, model.matrix(~ group)), trend = TRUE, robust = TRUE)
stopifnot(all(fit_df0$df.residual[1:4] == 0))
df0 <- data.frame(protein_ids = rownames(x_df0), logFC = fit_df0$coefficients[, 2], t = fit_df0$t[, 2],
                  P.Value = fit_df0$p.value[, 2], s2_prior = fit_df0$s2.prior, s2_post = fit_df0$s2.post,
                  df_prior = fit_df0$df.prior, check.names = FALSE)
gz <- gzfile(file.path(out_dir, "ups1.robust_trend_df0.tsv.gz"), "w")
write.table(format(df0, digits = 15), gz, sep = "\t", quote = FALSE, row.names = FALSE, na = "NA")
close(gz)
write_tt(eBayes(contrasts.fit(lmFit(x_median, design, method = "robust"), cm)), "ups1.lmfit_robust.tsv.gz")
fit_rdf0 <- eBayes(lmFit(x_df0, model.matrix(~ group), method = "robust"))
stopifnot(all(is.na(fit_rdf0$coefficients[1:4, ])))
rdf0 <- data.frame(protein_ids = rownames(x_df0), logFC = fit_rdf0$coefficients[, 2],
                   se_unscaled = fit_rdf0$stdev.unscaled[, 2], sigma = fit_rdf0$sigma,
                   df_residual = fit_rdf0$df.residual, t = fit_rdf0$t[, 2], P.Value = fit_rdf0$p.value[, 2],
                   s2_post = fit_rdf0$s2.post, check.names = FALSE)
gz <- gzfile(file.path(out_dir, "ups1.lmfit_robust_df0.tsv.gz"), "w")
write.table(format(rdf0, digits = 15), gz, sep = "\t", quote = FALSE, row.names = FALSE, na = "NA")
close(gz)
lfit <- lmFit(x_median, model.matrix(~ group))
lods <- data.frame(protein_ids = rownames(x_median), check.names = FALSE)
for (v in list(c("plain", FALSE, FALSE), c("trend", TRUE, FALSE), c("robust", FALSE, TRUE),
               c("robust_trend", TRUE, TRUE))) {
  lods[[v[1]]] <- eBayes(lfit, trend = as.logical(v[2]), robust = as.logical(v[3]))$lods[, 2]
}
gz <- gzfile(file.path(out_dir, "ups1.lods.tsv.gz"), "w")
write.table(format(lods, digits = 15), gz, sep = "\t", quote = FALSE, row.names = FALSE)
close(gz)
set.seed(7)
lx <- round(runif(400, 20, 30), 1)
ly <- sin(lx / 2) + rnorm(400, sd = 0.3)
out <- sample(400, 20)
ly[out] <- ly[out] + 3
lw <- data.frame(x = lx, y = ly, loessfit = loessFit(ly, lx, span = 0.4)$fitted,
                 lowess = lowess(lx, ly)$y[rank(lx, ties.method = "first")])
gz <- gzfile(file.path(out_dir, "lowess.tsv.gz"), "w")
write.table(format(lw, digits = 17), gz, sep = "\t", quote = FALSE, row.names = FALSE)
close(gz)
gz <- gzfile(file.path(out_dir, "ups1.cyclicloess_matrix.tsv.gz"), "w")
write.table(data.frame(protein_ids = rownames(x), format(as.data.frame(x_cyclic), digits = 15), check.names = FALSE),
            gz, sep = "\t", quote = FALSE, row.names = FALSE, na = "NA")
close(gz)
gz <- gzfile(file.path(out_dir, "ups1.quantile_matrix.tsv.gz"), "w")
write.table(data.frame(protein_ids = rownames(x), format(as.data.frame(x_quantile), digits = 15), check.names = FALSE),
            gz, sep = "\t", quote = FALSE, row.names = FALSE, na = "NA")
close(gz)
suppressPackageStartupMessages(library(DEqMS))
fit_dq <- eBayes(fit_median)
peptides <- setNames(tab$`Razor + unique peptides`, tab$`Protein IDs`)[rownames(fit_dq$coefficients)]
write_deqms <- function(count, method, file) {
  fit_dq$count <- count
  d <- spectraCounteBayes(fit_dq, fit.method = method, coef_col = 1)
  y_pred <- if (method == "nls") log(fitted(d$model)) else fitted(d$model)
  res <- data.frame(protein_ids = rownames(d$coefficients), count = count, logFC = d$coefficients[, 1],
                    sca_t = d$sca.t[, 1], sca_P = d$sca.p[, 1], sca_adj = p.adjust(d$sca.p[, 1], "BH"),
                    post_var = d$sca.postvar, prior_var = d$sca.priorvar, post_df = d$df.residual + d$sca.dfprior,
                    d0 = d$sca.dfprior, trend = y_pred, check.names = FALSE)
  gz <- gzfile(file.path(out_dir, file), "w")
  write.table(format(res, digits = 15), gz, sep = "\t", quote = FALSE, row.names = FALSE)
  close(gz)
  cat(sprintf("%s: d0 %g, %d at adj.P < 0.05\n", file, d$sca.dfprior, sum(res$sca_adj < 0.05)))
}
write_deqms(peptides, "loess", "ups1.deqms.tsv.gz")
write_deqms(peptides, "nls", "ups1.deqms_nls.tsv.gz")
zero <- peptides
zero[1:5] <- 0
write_deqms(zero + 1, "loess", "ups1.deqms_zero.tsv.gz")
cat(sprintf("DEqMS %s\n", as.character(packageVersion("DEqMS"))))
suppressPackageStartupMessages(library(impute))
write_matrix <- function(m, file) {
  gz <- gzfile(file.path(out_dir, file), "w")
  write.table(data.frame(protein_ids = rownames(m), format(as.data.frame(m), digits = 17), check.names = FALSE),
              gz, sep = "\t", quote = FALSE, row.names = FALSE, na = "NA")
  close(gz)
}
write_matrix(impute.knn(x_median, k = 10)$data, "ups1.knn.tsv.gz")
set.seed(3)
x_sparse <- x_median
x_sparse[sample(length(x_sparse), 1500)] <- NA
write_matrix(x_sparse, "ups1.knn_sparse_input.tsv.gz")
write_matrix(impute.knn(x_sparse, k = 10)$data, "ups1.knn_sparse.tsv.gz")
# imputeLCMD 2.1's impute.MinDet and the SD of impute.MinProb, line for line
min_det <- x_median
low <- apply(x_median, 2, quantile, prob = 0.01, na.rm = TRUE)
for (i in seq_len(ncol(x_median))) min_det[which(is.na(x_median[, i])), i] <- low[i]
write_matrix(min_det, "ups1.mindet.tsv.gz")
seen <- apply(!is.na(x_median), 1, sum) / ncol(x_median)
prot_sd <- apply(x_median[which(seen > 0.5), ], 1, sd, na.rm = TRUE)
write.table(data.frame(q = 0.01, tune_sigma = c(1, 2), sd = format(median(prot_sd, na.rm = TRUE) * c(1, 2), digits = 17),
                       low = paste(format(low, digits = 17), collapse = ",")),
            file.path(out_dir, "ups1.minprob_sd.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)
# imputeLCMD 2.1's impute.QRILC, its estimation line for line (per sample: the fraction missing, the quantile
# regression of the sample's quantiles on the normal's, the truncation point), and 20,000 of its draws for the first
# sample (tmvtnorm's rtmvnorm, Gibbs, as impute.QRILC calls it: it passes the SD estimate as 'sigma', a covariance,
# which with one dimension tmvtnorm hands to its univariate sampler as an SD)
qrilc <- do.call(rbind, lapply(seq_len(ncol(x_median)), function(i) {
  curr.sample <- x_median[, i]
  pNAs <- length(which(is.na(curr.sample))) / length(curr.sample)
  upper.q <- 0.99
  q.normal <- qnorm(seq((pNAs + 0.001), (upper.q + 0.001), (upper.q - pNAs) / (upper.q * 100)), mean = 0, sd = 1)
  q.curr.sample <- quantile(curr.sample, probs = seq(0.001, (upper.q + 0.001), 0.01), na.rm = TRUE)
  fit <- lm(q.curr.sample ~ q.normal)
  data.frame(sample = colnames(x_median)[i], p_missing = pNAs, mean = unname(fit$coefficients[1]),
             sd = unname(fit$coefficients[2]), upper = qnorm(pNAs + 0.001, fit$coefficients[1], fit$coefficients[2]))
}))
write.table(format(qrilc, digits = 15), file.path(out_dir, "ups1.qrilc.tsv"), sep = "\t", quote = FALSE,
            row.names = FALSE)
suppressPackageStartupMessages(library(tmvtnorm))  # apt-get install r-cran-tmvtnorm
set.seed(1)
draws <- rtmvnorm(n = 20000, mean = qrilc$mean[1], sigma = qrilc$sd[1], upper = qrilc$upper[1], algorithm = "gibbs")
gz <- gzfile(file.path(out_dir, "ups1.qrilc_draws.tsv.gz"), "w")
write.table(data.frame(draw = format(as.vector(draws), digits = 15)), gz, sep = "\t", quote = FALSE, row.names = FALSE)
close(gz)
# imputeLCMD 2.1's impute.MAR.MNAR(method.MAR = "KNN", method.MNAR = "QRILC"), its deterministic part line by line:
# model.Selector (which proteins are missing at random, and the censoring threshold), the KNN step on those
# (impute.wrapper.KNN: impute.knn(k = 15, rowmax = 0.99, colmax = 0.99)), and QRILC's estimates on the result
means <- rowMeans(x_median, na.rm = TRUE)
p_na <- length(which(is.na(means))) / length(means)
q_n <- qnorm(seq((p_na + 0.001), (0.99 + 0.001), (0.99 - p_na) / (0.99 * 100)), mean = 0, sd = 1)
q_m <- quantile(means, probs = seq(0.001, (0.99 + 0.001), 0.01), na.rm = TRUE)
qr_m <- lm(q_m ~ q_n)
m_cdd <- qr_m$coefficients[1]
s_cdd <- as.numeric(qr_m$coefficients[2])
support <- c(seq(m_cdd - 4 * s_cdd, min(means, na.rm = TRUE), length = 512), sort(means),
             seq(max(means, na.rm = TRUE), m_cdd + 4 * s_cdd, length = 512))
cdf_od <- ecdf(sort(means))(support)
cdf_cd <- pnorm(support, mean = m_cdd, sd = s_cdd)
obj <- ((cdf_cd - cdf_od + 1) / (cdf_od + 1) - 1) * 10
thr <- if (max(obj) > 0) support[which(obj == max(obj))] else m_cdd - 4 * s_cdd - 1
mar <- rep(0, nrow(x_median))
mar[which(means > thr)] <- 1
x_mar <- x_median
x_mar[which(mar == 1), ] <- impute.knn(x_median[which(mar == 1), ], k = 15, rowmax = 0.99, colmax = 0.99,
                                       maxp = 1500)$data
write_matrix(cbind(x_mar, mar = mar), "ups1.mar_mnar_knn.tsv.gz")
cat(sprintf("model.Selector: threshold %s, %d of %d proteins MAR, %d cells left for QRILC\n",
            paste(format(thr, digits = 17), collapse = ","), sum(mar), length(mar), sum(is.na(x_mar))))
batch <- factor(ifelse(smp$replicate == 3, "b", "a"))
fit_b <- eBayes(lmFit(x_median, model.matrix(~ batch + group)))
tt <- topTable(fit_b, coef = 2:3, number = Inf, sort.by = "none")
stopifnot(identical(rownames(tt), rownames(x_median)))
gz <- gzfile(file.path(out_dir, "ups1.f_batch_group.tsv.gz"), "w")
write.table(format(data.frame(protein_ids = rownames(tt), AveExpr = tt$AveExpr, F = tt$F, P.Value = tt$P.Value,
                              adj.P.Val = tt$adj.P.Val, check.names = FALSE), digits = 15),
            gz, sep = "\t", quote = FALSE, row.names = FALSE)
close(gz)
cat(sprintf("ups1.f_batch_group.tsv.gz: %d proteins, %d F NA, %d at adj.P < 0.05\n", nrow(tt), sum(is.na(tt$F)),
            sum(tt$adj.P.Val < 0.05, na.rm = TRUE)))
# sample quality weights (de.sample_weights for proteins): arrayWeights(E, design), method "auto" (gene by gene with
# missing values, REML on a complete matrix), then lmFit(weights = aw) + eBayes; and with a block (de.block)
design_g <- model.matrix(~ group)
aw <- arrayWeights(x_median, design_g)
complete <- x_median[rowSums(is.na(x_median)) == 0, ]
aw_reml <- arrayWeights(complete, design_g)
write.table(data.frame(sample = colnames(x_median), genebygene = format(aw, digits = 15),
                       reml = format(aw_reml, digits = 15)),
            file.path(out_dir, "ups1.array_weights.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)
write_weighted <- function(fit, file, extra = list()) {
  tt <- topTable(fit, coef = 2, number = Inf, sort.by = "none")
  res <- data.frame(protein_ids = rownames(tt), logFC = tt$logFC, t = tt$t, P.Value = tt$P.Value,
                    adj.P.Val = tt$adj.P.Val, s2_post = fit$s2.post, check.names = FALSE)
  for (k in names(extra)) res[[k]] <- extra[[k]]
  gz <- gzfile(file.path(out_dir, file), "w")
  write.table(format(res, digits = 15), gz, sep = "\t", quote = FALSE, row.names = FALSE, na = "NA")
  close(gz)
  cat(sprintf("%s: %d at adj.P < 0.05\n", file, sum(tt$adj.P.Val < 0.05)))
}
write_weighted(eBayes(lmFit(x_median, design_g, weights = aw)), "ups1.sample_weights.tsv.gz")
fit_w <- eBayes(lmFit(x_median, design_g, weights = aw))
fit_w$count <- peptides
d_w <- spectraCounteBayes(fit_w, fit.method = "loess", coef_col = 2)
gz <- gzfile(file.path(out_dir, "ups1.sample_weights_deqms.tsv.gz"), "w")
write.table(format(data.frame(protein_ids = rownames(d_w$coefficients), sca_t = d_w$sca.t[, 1], sca_P = d_w$sca.p[, 1],
                              sca_adj = p.adjust(d_w$sca.p[, 1], "BH"), check.names = FALSE), digits = 15),
            gz, sep = "\t", quote = FALSE, row.names = FALSE)
close(gz)
cat(sprintf("ups1.sample_weights_deqms.tsv.gz: %d at adj.P < 0.05\n", sum(p.adjust(d_w$sca.p[, 1], "BH") < 0.05)))
dc_w <- duplicateCorrelation(x_median, design_g, block = smp$replicate, weights = aw)
write_weighted(eBayes(lmFit(x_median, design_g, weights = aw, block = smp$replicate,
                            correlation = dc_w$consensus.correlation)),
               "ups1.sample_weights_block.tsv.gz", list(consensus = dc_w$consensus.correlation))
cat(sprintf("impute %s\n", as.character(packageVersion("impute"))))
cat(sprintf("limma %s, R %s\n", as.character(packageVersion("limma")),
            paste(R.version$major, R.version$minor, sep = ".")))
