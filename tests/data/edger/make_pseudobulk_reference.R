#!/usr/bin/env Rscript
# edgeR 3.40.2's QL pipeline on real pseudobulk counts, for tests/unit/test_edger.py. Run from the
# repository root (needs r-base-core r-bioc-edger):
#   Rscript tests/data/edger/make_pseudobulk_reference.R
# Input (beside this script): tms_pseudobulk_counts.tsv.gz and tms_pseudobulk_sheet.tsv, the
# pseudobulk sums (cells of one cell type and plate/mouse) of the shipped Tabula Muris Senis liver
# subset (resources/data/tms_liver, CC BY 4.0) as the workflow's pseudobulk rule writes them with the
# default config, per cell type its samples and the genes with >= 10 counts in >= 3 samples
# (lsecflow's pre-filter): 6-9 samples, 262-469 genes, dispersions near 3 -- the small, noisy fits
# pseudobulk gives. Writes tms_pseudobulk_ql.tsv.gz: per cell type, ~ age_group with YOUNG as the
# reference, estimateDisp, glmQLFit, glmQLFTest(coef = 2): logFC, F, PValue, the common dispersion and
# the prior df (15 significant digits).
suppressMessages(library(edgeR))
out <- "tests/data/edger"
long <- read.delim(gzfile(file.path(out, "tms_pseudobulk_counts.tsv.gz")), colClasses = c("character", "character", "character", "numeric"))
sheet <- read.delim(file.path(out, "tms_pseudobulk_sheet.tsv"), colClasses = "character")
rows <- list()
for (ct in unique(sheet$cell_type)) {
  part <- long[long$cell_type == ct, ]
  counts <- xtabs(count ~ gene + sample, part)
  counts <- matrix(as.numeric(counts), nrow(counts), dimnames = dimnames(counts))
  s <- sheet[sheet$cell_type == ct, ]
  s <- s[match(colnames(counts), s$sample), ]
  g <- relevel(factor(s$age_group), ref = "YOUNG")
  design <- model.matrix(~ g)
  y <- estimateDisp(calcNormFactors(DGEList(counts)), design)
  fit <- glmQLFit(y, design)
  res <- glmQLFTest(fit, coef = 2)
  rows[[ct]] <- data.frame(cell_type = ct, gene = rownames(counts), logFC = res$table$logFC, F = res$table$F,
                           PValue = res$table$PValue, common = y$common.dispersion, df_prior = fit$df.prior)
}
tab <- do.call(rbind, rows)
num <- vapply(tab, is.numeric, TRUE)
tab[num] <- lapply(tab[num], function(v) as.character(signif(v, 15)))
write.table(tab, gzfile(file.path(out, "tms_pseudobulk_ql.tsv.gz")), sep = "\t", quote = FALSE, row.names = FALSE)
