#!/usr/bin/env Rscript
# limma 3.54.1's removeBatchEffect (R 4.2.2), the reference for lsecflow.nuisance (the QC PCA drawn without the
# design's nuisance terms). Run from the repository root:
#   Rscript tests/data/nuisance/make_reference.R
# On the real DLPC counts as tests/data/dlpc_filtered.R reads them, edgeR's cpm(calcNormFactors(DGEList),
# log = TRUE), the first 1,000 genes by id: removeBatchEffect(x, batch = <the SYNTHETIC balanced batch of
# tests/data/deseq2_reference>, design = model.matrix(~ Group)) -> batch.tsv.gz, and with
# covariates = <the SYNTHETIC `weight` of synthetic_numeric_sheet.tsv.gz> as well -> batch_weight.tsv.gz
# (genes x samples, 12 significant digits). Neither column carries a real effect: the tables check the
# arithmetic.
suppressMessages({library(limma); library(edgeR)})
out <- "tests/data/nuisance"
source("tests/data/dlpc_filtered.R")
x <- cpm(calcNormFactors(DGEList(counts)), log = TRUE)[1:1000, ]
weight <- read.delim(gzfile("tests/data/deseq2_reference/synthetic_numeric_sheet.tsv.gz"))
weight <- weight$weight[match(colnames(x), weight$sample)]
design <- model.matrix(~ factor(sheet$Group, levels = levels3))
save <- function(m, name) {
  con <- gzfile(file.path(out, paste0(name, ".tsv.gz")), "w")
  write.table(data.frame(gene_id = rownames(m), apply(m, 2, function(v) signif(v, 12)), check.names = FALSE), con,
              sep = "\t", quote = FALSE, row.names = FALSE)
  close(con)
}
save(removeBatchEffect(x, batch = sheet$batch, design = design), "batch")
save(removeBatchEffect(x, batch = sheet$batch, covariates = weight, design = design), "batch_weight")
