#!/usr/bin/env Rscript
# Reference tables for contrasts in a design with an interaction (lsecflow's contrasts.<name>.within and
# .interaction), from R DESeq2 1.38.3, limma 3.54.1 and edgeR 3.40.2 (R 4.2.2). Run from the repository root:
#   Rscript tests/data/interaction/make_reference.R
# On the real DLPC counts as tests/data/dlpc_filtered.R reads them (15,974 genes x 20 samples) with the
# SYNTHETIC balanced `batch` of tests/data/deseq2_reference (b1/b2 within each Group; no real batch effect:
# the interaction carries none either, these tables check the arithmetic, not biology), design
# ~ batch + Group + batch:Group, Chow and b1 the base levels. Contrasts:
#   disease_in_b2          Group Disease vs Chow within batch b2
#   agonist_vs_disease_b2  Group Disease/Agonist vs Disease within batch b2 (neither level the base)
#   disease_by_batch       Group Disease vs Chow in b2 minus in b1 (the batchb2:GroupDisease coefficient)
# DESeq2: DESeq() defaults, results(contrast = list(...)) / results(name = ...), and the LRT of the
# interaction term (reduced ~ batch + Group) with disease_in_b2's log2FC (deseq2_lrt_disease_in_b2); limma-voom: TMM, voom,
# lmFit, eBayes, the coefficient of a design whose base levels make it one (batch releveled to b2 for the
# within-b2 contrasts, Group to Disease for the second); edgeR: estimateDisp on the design, glmQLFit,
# glmQLFTest of that coefficient. Writes <engine>_<contrast>.tsv.gz: gene_id, log2 fold change, p-value,
# adjusted p-value (DESeq2: padj; limma: adj.P.Val; edgeR: FDR), 9 significant digits.
suppressMessages({library(DESeq2); library(limma); library(edgeR)})
out <- "tests/data/interaction"
source("tests/data/dlpc_filtered.R")
sheet$Group <- factor(sheet$Group, levels = levels3)
sheet$batch <- relevel(sheet$batch, "b1")
source("tests/data/save_de_table.R")
formula <- ~ batch + Group + batch:Group
dds <- DESeq(DESeqDataSetFromMatrix(counts, sheet, formula), quiet = TRUE)
print(resultsNames(dds))
for (item in list(
  list("disease_in_b2", list(c("Group_Disease_vs_Chow", "batchb2.GroupDisease"))),
  list("agonist_vs_disease_b2", list(c("Group_Disease.Agonist_vs_Chow", "batchb2.GroupDisease.Agonist"),
                                     c("Group_Disease_vs_Chow", "batchb2.GroupDisease"))))) {
  r <- results(dds, contrast = item[[2]])
  save(r$log2FoldChange, r$pvalue, r$padj, paste0("deseq2_", item[[1]]))
}
r <- results(dds, name = "batchb2.GroupDisease")
save(r$log2FoldChange, r$pvalue, r$padj, "deseq2_disease_by_batch")
# the interaction term tested as a whole (both its coefficients), the contrast's log2FC beside it
lrt <- DESeq(dds, test = "LRT", reduced = ~ batch + Group, quiet = TRUE)
r <- results(lrt, contrast = list(c("Group_Disease_vs_Chow", "batchb2.GroupDisease")))
save(r$log2FoldChange, r$pvalue, r$padj, "deseq2_lrt_disease_in_b2")

y <- calcNormFactors(DGEList(counts))
fits <- list(disease_in_b2 = list(batch = "b2", Group = "Chow", coef = "GroupDisease"),
             disease_by_batch = list(batch = "b1", Group = "Chow", coef = "batchb2:GroupDisease"))
for (name in names(fits)) {
  f <- fits[[name]]
  s <- sheet
  s$batch <- relevel(s$batch, f$batch); s$Group <- relevel(s$Group, f$Group)
  design <- model.matrix(formula, s)
  v <- voom(y, design)
  tt <- topTable(eBayes(lmFit(v, design)), coef = f$coef, number = Inf, sort.by = "none")
  save(tt$logFC, tt$P.Value, tt$adj.P.Val, paste0("voom_", name))
  ye <- estimateDisp(y, design)
  qt <- topTags(glmQLFTest(glmQLFit(ye, design), coef = f$coef), n = Inf, sort.by = "none")$table
  save(qt$logFC, qt$PValue, qt$FDR, paste0("edger_", name))
}
