#!/usr/bin/env Rscript
# Reference tables from R limma-voom (edgeR's TMM, voom, lmFit, eBayes / treat) for lsecflow's
# tests (tests/unit/test_voom.py). Run from the repository root (needs r-base-core r-bioc-limma
# r-bioc-edger):
#   Rscript tests/data/voom/make_reference.R
# On the real DLPC counts (resources/data/dlpc_liver, Sample724 renamed Sample725, genes kept
# with >= 10 counts in >= 3 samples, lsecflow's default pre-filter; library sizes are the
# filtered columns' sums, as edgeR's keep.lib.sizes = FALSE), it writes next to this script:
#   norm_factors.tsv.gz            calcNormFactors(method = "TMM") and the library sizes
#   voom_<contrast>.tsv.gz         ~ Group, Disease_vs_Chow and DiseaseAgonist_vs_Disease; each contrast from a fit whose base level is its
#                                  reference (relevel), eBayes(), topTable(sort.by = "none")
#   voom_trend_robust_Disease_vs_Chow.tsv.gz   eBayes(trend = TRUE, robust = TRUE)
#   voom_treat1_Disease_vs_Chow.tsv.gz         treat(lfc = 1), topTreat(sort.by = "none")
#   voom_batch_Disease_vs_Chow.tsv.gz          ~ batch + Group (batch: tests/data/deseq2_reference's
#                                              SYNTHETIC balanced batch, no real effect)
#   voom_batch_F_Group.tsv.gz, voom_batch_F_Group_trend_robust.tsv.gz   ~ batch + Group, the moderated F
#                                  test of both Group coefficients (topTable(coef = <both>): limma's
#                                  classifyTestsF), plain and with eBayes(trend = TRUE, robust = TRUE)
#   voom_weights.tsv.gz            voom's weights and E of ~ Group for every 100th gene
#   quality_weights.tsv.gz         voomWithQualityWeights(dge, ~ Group)'s sample weights (arrayWeights,
#                                  method "genebygene"), and
#   voomqw_DiseaseAgonist_vs_Chow.tsv.gz   lmFit + eBayes on it
# Values are written with 15 significant digits.
suppressMessages({library(limma); library(edgeR)})
out <- "tests/data/voom"
source("tests/data/dlpc_filtered.R")
dge <- calcNormFactors(DGEList(counts))
write.table(data.frame(sample = colnames(counts), lib_size = dge$samples$lib.size,
                       norm_factor = as.character(signif(dge$samples$norm.factors, 15))),
            gzfile(file.path(out, "norm_factors.tsv.gz")), sep = "\t", quote = FALSE, row.names = FALSE)
save <- function(tab, name) {
  num <- vapply(tab, is.numeric, TRUE)
  tab[num] <- lapply(tab[num], function(v) as.character(signif(v, 15)))
  write.table(data.frame(gene_id = rownames(tab), tab, check.names = FALSE),
              gzfile(file.path(out, paste0(name, ".tsv.gz"))), sep = "\t", quote = FALSE, row.names = FALSE)
}
fit_for <- function(reference, formula = ~ Group, trend = FALSE, robust = FALSE) {
  sheet$Group <- relevel(factor(sheet$Group, levels = levels3), ref = reference)
  design <- model.matrix(formula, sheet)
  v <- voom(dge, design)
  list(v = v, fit = eBayes(lmFit(v, design), trend = trend, robust = robust))
}
coef_of <- function(target) paste0("Group", target)
contrasts <- list(Disease_vs_Chow = c("Disease", "Chow"), DiseaseAgonist_vs_Disease = c("Disease/Agonist", "Disease"))
t0 <- Sys.time()
for (n in names(contrasts)) {
  f <- fit_for(contrasts[[n]][2])$fit
  tab <- topTable(f, coef = coef_of(contrasts[[n]][1]), number = Inf, sort.by = "none")
  save(cbind(tab, s2_post = f$s2.post, df_total = f$df.total), paste0("voom_", n))
}
f <- fit_for("Chow", trend = TRUE, robust = TRUE)$fit
tab <- topTable(f, coef = "GroupDisease", number = Inf, sort.by = "none")
save(cbind(tab, s2_post = f$s2.post, df_total = f$df.total), "voom_trend_robust_Disease_vs_Chow")
vf <- fit_for("Chow")
tr <- treat(lmFit(vf$v, vf$v$design), lfc = 1)
save(topTreat(tr, coef = "GroupDisease", number = Inf, sort.by = "none"), "voom_treat1_Disease_vs_Chow")
f <- fit_for("Chow", ~ batch + Group)$fit
save(topTable(f, coef = "GroupDisease", number = Inf, sort.by = "none"), "voom_batch_Disease_vs_Chow")
both <- c("GroupDisease", "GroupDisease/Agonist")
save(topTable(f, coef = both, number = Inf, sort.by = "none"), "voom_batch_F_Group")
f <- fit_for("Chow", ~ batch + Group, trend = TRUE, robust = TRUE)$fit
save(topTable(f, coef = both, number = Inf, sort.by = "none"), "voom_batch_F_Group_trend_robust")
vq <- voomWithQualityWeights(dge, model.matrix(~ Group, transform(sheet, Group = factor(Group, levels = levels3))))
write.table(data.frame(sample = colnames(counts), weight = as.character(signif(vq$targets$sample.weights, 15))),
            gzfile(file.path(out, "quality_weights.tsv.gz")), sep = "\t", quote = FALSE, row.names = FALSE)
fq <- eBayes(lmFit(vq, vq$design))
save(topTable(fq, coef = "GroupDisease/Agonist", number = Inf, sort.by = "none"), "voomqw_DiseaseAgonist_vs_Chow")
every <- seq(1, nrow(counts), by = 100)
w <- vf$v$weights[every, ]; e <- vf$v$E[every, ]
dimnames(w) <- dimnames(e) <- list(rownames(counts)[every], colnames(counts))
long <- data.frame(gene_id = rep(rownames(w), ncol(w)), sample = rep(colnames(w), each = nrow(w)),
                   weight = as.character(signif(as.vector(w), 15)), E = as.character(signif(as.vector(e), 15)))
write.table(long, gzfile(file.path(out, "voom_weights.tsv.gz")), sep = "\t", quote = FALSE, row.names = FALSE)
message("limma ", packageVersion("limma"), ", edgeR ", packageVersion("edgeR"), " (", R.version.string,
        "): done in ", round(as.numeric(Sys.time() - t0, units = "secs"), 1), " s")
