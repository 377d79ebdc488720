# edgeR on tximport's countsFromAbundance = "no" with its average transcript lengths as offsets (the edgeR
# recipe of tximport's vignette: length factors scaled to each gene's geometric mean, TMM on the
# length-corrected counts, scaleOffset), the reference for lsecflow's counts.from_abundance: "no" route
# under de.engine: edger. Run from the repository root, after make_reference.R (R 4.2.2, tximport 1.26.1,
# edgeR 3.40.2):
#   Rscript tests/data/tximport/make_edger_reference.R
# On the shipped GEUVADIS salmon subset, samples in samples.txt's order with a SYNTHETIC `group` (a, a, a,
# b, b, b: the design needs two levels; no real effect is planted); counts rounded (lsecflow's
# counts.round: true), genes kept with >= 10 counts in >= 3 samples (de.min_count / de.min_samples
# defaults), the recipe on the kept genes (library sizes their sums, as lsecflow's edgeR path), then
# estimateDisp(y, ~ group), glmQLFit, glmQLFTest(coef = 2) and glmTreat(lfc = 1). Writes
#   edger_tx_lengths.b_vs_a.tsv.gz      topTags(sort.by = "none") of glmQLFTest, and glmTreat's PValue
#   edger_tx_lengths.offset.tsv.gz      the DGEList's offset (genes x samples, natural log)
#   edger_tx_lengths.log_cpm.tsv.gz     cpm(y, log = TRUE): what lsecflow writes as the edgeR "vst"
#   edger_tx_lengths.dispersion.tsv.gz  trended dispersion, AveLogCPM, common dispersion
# at 17 significant digits.
suppressMessages({library(tximport); library(edgeR)})
out <- "tests/data/tximport"
sheet <- read.table(file.path(out, "samples.txt"), header = TRUE)
group <- factor(c("a", "a", "a", "b", "b", "b"))
paths <- file.path(out, "salmon", paste0(sheet$run, ".quant.sf.gz"))
names(paths) <- sheet$run
txi <- tximport(paths, type = "salmon", tx2gene = read.csv(file.path(out, "tx2gene.csv.gz")),
                countsFromAbundance = "no")
cts <- round(txi$counts)
keep <- rowSums(cts >= 10) >= 3
cts <- cts[keep, ]
normMat <- txi$length[keep, ]
normMat <- normMat / exp(rowMeans(log(normMat)))
normCts <- cts / normMat
eff.lib <- calcNormFactors(normCts) * colSums(normCts)
normMat <- log(sweep(normMat, 2, eff.lib, "*"))
y <- scaleOffset(DGEList(cts), normMat)
design <- model.matrix(~ group)
y <- estimateDisp(y, design)
fit <- glmQLFit(y, design)
res <- topTags(glmQLFTest(fit, coef = 2), n = Inf, sort.by = "none")$table
res$treat_PValue <- glmTreat(fit, coef = 2, lfc = 1)$table$PValue
fmt <- function(m) apply(as.matrix(m), 2, sprintf, fmt = "%.17g")
write_table <- function(m, name) {
  df <- data.frame(gene_id = rownames(cts), fmt(m), check.names = FALSE)
  con <- gzfile(file.path(out, name), "w")
  write.table(df, con, sep = "\t", quote = FALSE, row.names = FALSE); close(con)
}
write_table(res, "edger_tx_lengths.b_vs_a.tsv.gz")
write_table(y$offset, "edger_tx_lengths.offset.tsv.gz")
write_table(cpm(y, log = TRUE), "edger_tx_lengths.log_cpm.tsv.gz")
write_table(data.frame(trended = y$trended.dispersion, AveLogCPM = y$AveLogCPM, common = y$common.dispersion),
            "edger_tx_lengths.dispersion.tsv.gz")
cat(nrow(cts), "genes;", sum(res$FDR < 0.05), "at FDR < 0.05; common dispersion", y$common.dispersion,
    "; edgeR", as.character(packageVersion("edgeR")), "\n")
