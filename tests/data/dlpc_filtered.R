# The DLPC counts as the R reference scripts read them (sourced by tests/data/voom/make_reference.R and
# tests/data/edger/make_reference.R; run from the repository root): resources/data/dlpc_liver's counts with
# Sample724 renamed Sample725, the sheet of tests/data/deseq2_reference (Group and its SYNTHETIC balanced
# batch) sorted by sample, genes kept with >= 10 counts in >= 3 samples (lsecflow's default pre-filter) and
# sorted by id. Defines `counts` (genes x samples), `sheet` (batch a factor) and `levels3` (Group's levels).
counts <- read.delim(gzfile("resources/data/dlpc_liver/counts.tsv.gz"), row.names = 1, check.names = FALSE)
colnames(counts)[colnames(counts) == "Sample724"] <- "Sample725"
sheet <- read.delim(gzfile("tests/data/deseq2_reference/synthetic_batch_sheet.tsv.gz"), colClasses = "character")
sheet <- sheet[order(sheet$sample), ]
rownames(sheet) <- sheet$sample
counts <- as.matrix(counts[, sheet$sample])
counts <- counts[rowSums(counts >= 10) >= 3, ]
counts <- counts[order(rownames(counts)), ]
sheet$batch <- factor(sheet$batch)
levels3 <- c("Chow", "Disease", "Disease/Agonist")
