# DESeq2 on tximport's countsFromAbundance = "no" with its average transcript lengths as offsets
# (DESeqDataSetFromTximport), the reference for lsecflow's counts.from_abundance: "no" route.
# Run from the repository root, after make_reference.R (R 4.2.2, tximport 1.26.1, DESeq2 1.38.3):
#   Rscript tests/data/tximport/make_deseq2_reference.R
# On the shipped GEUVADIS salmon subset, samples in samples.txt's order with a SYNTHETIC `group` (a, a, a,
# b, b, b: the design needs two levels; no real effect is planted), genes kept with >= 10 counts in >= 3
# samples (lsecflow's de.min_count / de.min_samples defaults), default DESeq() and results(b vs a). Writes
#   deseq2_tx_lengths.b_vs_a.tsv.gz      results() table
#   deseq2_tx_lengths.norm_factors.tsv.gz  normalizationFactors (genes x samples)
#   deseq2_tx_lengths.vst_blind.tsv.gz   vst(dds, blind = TRUE) on the same genes: lsecflow's QC transform
# at 17 significant digits.
suppressMessages({library(tximport); library(DESeq2)})
out <- "tests/data/tximport"
sheet <- read.table(file.path(out, "samples.txt"), header = TRUE)
sheet$group <- factor(c("a", "a", "a", "b", "b", "b"))
rownames(sheet) <- sheet$run
paths <- file.path(out, "salmon", paste0(sheet$run, ".quant.sf.gz"))
names(paths) <- sheet$run
txi <- tximport(paths, type = "salmon", tx2gene = read.csv(file.path(out, "tx2gene.csv.gz")),
                countsFromAbundance = "no")
dds <- DESeqDataSetFromTximport(txi, sheet, ~ group)
dds <- dds[rowSums(counts(dds) >= 10) >= 3, ]
dds <- DESeq(dds, quiet = TRUE)
res <- results(dds, contrast = c("group", "b", "a"))
fmt <- function(m) apply(as.matrix(m), 2, sprintf, fmt = "%.17g")
write_table <- function(m, name) {
  df <- data.frame(gene_id = rownames(dds), fmt(m), check.names = FALSE)
  con <- gzfile(file.path(out, name), "w")
  write.table(df, con, sep = "\t", quote = FALSE, row.names = FALSE); close(con)
}
write_table(as.data.frame(res), "deseq2_tx_lengths.b_vs_a.tsv.gz")
write_table(normalizationFactors(dds), "deseq2_tx_lengths.norm_factors.tsv.gz")
write_table(assay(vst(dds, blind = TRUE)), "deseq2_tx_lengths.vst_blind.tsv.gz")
cat(nrow(dds), "genes;", sum(res$padj < 0.05, na.rm = TRUE), "at padj < 0.05; DESeq2",
    as.character(packageVersion("DESeq2")), "\n")
