#!/usr/bin/env Rscript
# Reference tables from R edgeR 3.40.2 (calcNormFactors, estimateDisp, glmQLFit, glmQLFTest) for
# lsecflow's tests (tests/unit/test_edger.py). Run from the repository root (needs r-base-core
# r-bioc-edger):
#   Rscript tests/data/edger/make_reference.R
# On the real DLPC counts (resources/data/dlpc_liver, Sample724 renamed Sample725, genes kept with
# >= 10 counts in >= 3 samples, lsecflow's default pre-filter; library sizes the filtered columns'
# sums, edgeR's keep.lib.sizes = FALSE), it writes next to this script:
#   dispersions.tsv.gz         estimateDisp(y, ~ Group): common (first row's value), trended, AveLogCPM,
#                              and glmQLFit's df.prior, s2.post (var.post) and deviance per gene
#   ql_<contrast>.tsv.gz       ~ Group, each contrast from a fit whose base level is its reference
#                              (relevel), glmQLFTest(fit, coef = <target>), topTags(sort.by = "none")
#   ql_robust_Disease_vs_Chow.tsv.gz   glmQLFit(robust = TRUE)
#   ql_batch_Disease_vs_Chow.tsv.gz    ~ batch + Group (batch: tests/data/deseq2_reference's SYNTHETIC
#                              balanced batch, no real effect): a design that is not one-way (Levenberg)
#   ql_batch_F_Group.tsv.gz    ~ batch + Group, the QL F test of both Group coefficients
#   treat1_Disease_vs_Chow.tsv.gz, treat1_batch_Disease_vs_Chow.tsv.gz   glmTreat(fit, coef, lfc = 1)
#                              (edgeR's default null = "interval") on the ~ Group and the ~ batch + Group fits
#   zero_groups.tsv.gz         the first 2,000 genes with PLANTED zeros (gene 1 in every Chow sample, gene 2
#                              in every Disease one), ~ Group: the reduced designs of estimateDisp and
#                              .residDF; trended dispersion, df.residual.zeros, s2.post, glmQLFTest p (Disease)
#   locfit_deg0.tsv.gz         edgeR's locfitByCol(Y, x, span, degree = 0) (locfit(deg = 0, alpha = span),
#                              fitted()) on SYNTHETIC inputs seeded here: 300 x values with ties, three
#                              columns, spans 0.3 and 1 (tests/unit/test_locfit.py)
# Values are written with 15 significant digits.
suppressMessages({library(edgeR)})
out <- "tests/data/edger"
source("tests/data/dlpc_filtered.R")
dge <- calcNormFactors(DGEList(counts))
save <- function(tab, name) {
  num <- vapply(tab, is.numeric, TRUE)
  tab[num] <- lapply(tab[num], function(v) as.character(signif(v, 15)))
  write.table(data.frame(gene_id = rownames(counts), tab, check.names = FALSE, row.names = NULL),
              gzfile(file.path(out, paste0(name, ".tsv.gz"))), sep = "\t", quote = FALSE, row.names = FALSE)
}
fit_for <- function(reference, formula = ~ Group, robust = FALSE) {
  sheet$Group <- relevel(factor(sheet$Group, levels = levels3), ref = reference)
  design <- model.matrix(formula, sheet)
  y <- estimateDisp(dge, design)
  list(y = y, fit = glmQLFit(y, design, robust = robust))
}
ql_table <- function(fit, coef) {
  res <- glmQLFTest(fit, coef = coef)
  tab <- topTags(res, n = Inf, sort.by = "none")$table
  cbind(tab, df_total = res$df.total)
}
coef_of <- function(target) paste0("Group", target)
t0 <- Sys.time()
f <- fit_for("Chow")
cat("edgeR QL, ~ Group, Chow as reference:", format(Sys.time() - t0), "\n")
save(data.frame(common = f$y$common.dispersion, trended = f$y$trended.dispersion, AveLogCPM = f$y$AveLogCPM,
                df_prior = f$fit$df.prior, s2_post = f$fit$var.post, deviance = f$fit$deviance), "dispersions")
save(ql_table(f$fit, "GroupDisease"), "ql_Disease_vs_Chow")
f <- fit_for("Disease")
save(ql_table(f$fit, coef_of("Disease/Agonist")), "ql_DiseaseAgonist_vs_Disease")
f <- fit_for("Chow", robust = TRUE)
save(cbind(ql_table(f$fit, "GroupDisease"), df_prior = f$fit$df.prior), "ql_robust_Disease_vs_Chow")
treat_table <- function(fit) {
  res <- glmTreat(fit, coef = "GroupDisease", lfc = 1)
  topTags(res, n = Inf, sort.by = "none")$table
}
save(treat_table(fit_for("Chow")$fit), "treat1_Disease_vs_Chow")
f <- fit_for("Chow", ~ batch + Group)
save(ql_table(f$fit, "GroupDisease"), "ql_batch_Disease_vs_Chow")
save(treat_table(f$fit), "treat1_batch_Disease_vs_Chow")
save(ql_table(f$fit, c("GroupDisease", "GroupDisease/Agonist")), "ql_batch_F_Group")

zc <- counts[1:2000, ]
zc[1, sheet$Group == "Chow"] <- 0
zc[2, sheet$Group == "Disease"] <- 0
zs <- sheet
zs$Group <- relevel(factor(zs$Group, levels = levels3), ref = "Chow")
zd <- model.matrix(~ Group, zs)
zy <- estimateDisp(calcNormFactors(DGEList(zc)), zd)
zf <- glmQLFit(zy, zd)
zr <- glmQLFTest(zf, coef = 2)
zt <- data.frame(gene_id = rownames(zc), trended = zy$trended.dispersion, df_residual = zf$df.residual.zeros,
                 s2_post = zf$var.post, PValue = zr$table$PValue)
zt[-(1:3)] <- lapply(zt[-(1:3)], function(v) as.character(signif(v, 15)))
zt$trended <- as.character(signif(zt$trended, 15))
write.table(zt, gzfile(file.path(out, "zero_groups.tsv.gz")), sep = "\t", quote = FALSE, row.names = FALSE)

set.seed(11)
x <- c(runif(290, -2, 12), rep(3, 10))
Y <- cbind(a = sin(x) + rnorm(300, sd = 0.3), b = -x^2 / 20 + rnorm(300), c = rexp(300))
loc <- do.call(rbind, lapply(c(0.3, 1), function(span) {
  fit <- edgeR:::locfitByCol(Y, x, span = span, degree = 0)
  data.frame(span = span, x = x, y_a = Y[, "a"], y_b = Y[, "b"], y_c = Y[, "c"],
             fit_a = fit[, "a"], fit_b = fit[, "b"], fit_c = fit[, "c"])
}))
loc[] <- lapply(loc, function(v) as.character(signif(v, 15)))
write.table(loc, gzfile(file.path(out, "locfit_deg0.tsv.gz")), sep = "\t", quote = FALSE, row.names = FALSE)
