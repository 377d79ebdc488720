#!/usr/bin/env Rscript
# The slope of a numeric design column (lsecflow's contrast without target and reference on a column declared
# numeric:), from R DESeq2 1.38.3, limma 3.54.1 and edgeR 3.40.2 (R 4.2.2). Run from the repository root:
#   Rscript tests/data/slope/make_reference.R
# On the real DLPC counts as tests/data/dlpc_filtered.R reads them (15,974 genes x 20 samples) with the
# SYNTHETIC `weight` of tests/data/deseq2_reference/synthetic_numeric_sheet.tsv.gz (20 + 1.5 x (rank of the
# sample id modulo 5): no real effect, so these tables check the arithmetic), design ~ weight + Group:
# DESeq2 results(name = "weight"); limma-voom topTable(coef = "weight"); edgeR glmQLFTest(coef = "weight").
# Writes <engine>_weight.tsv.gz: gene_id, log2 fold change per unit, p-value, adjusted p-value, 9 digits.
suppressMessages({library(DESeq2); library(limma); library(edgeR)})
out <- "tests/data/slope"
source("tests/data/dlpc_filtered.R")
w <- read.delim(gzfile("tests/data/deseq2_reference/synthetic_numeric_sheet.tsv.gz"))
sheet$weight <- w$weight[match(sheet$sample, w$sample)]
sheet$Group <- factor(sheet$Group, levels = levels3)
source("tests/data/save_de_table.R")
formula <- ~ weight + Group
r <- results(DESeq(DESeqDataSetFromMatrix(counts, sheet, formula), quiet = TRUE), name = "weight")
save(r$log2FoldChange, r$pvalue, r$padj, "deseq2_weight")
design <- model.matrix(formula, sheet)
y <- calcNormFactors(DGEList(counts))
tt <- topTable(eBayes(lmFit(voom(y, design), design)), coef = "weight", number = Inf, sort.by = "none")
save(tt$logFC, tt$P.Value, tt$adj.P.Val, "voom_weight")
qt <- topTags(glmQLFTest(glmQLFit(estimateDisp(y, design), design), coef = "weight"), n = Inf, sort.by = "none")$table
save(qt$logFC, qt$PValue, qt$FDR, "edger_weight")
