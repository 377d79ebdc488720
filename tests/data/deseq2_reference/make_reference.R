#!/usr/bin/env Rscript
# Reference tables from R DESeq2 for lsecflow's tests (tests/test_de.py).
# Run from the repository root (needs r-base-core r-bioc-deseq2):
#   Rscript tests/data/deseq2_reference/make_reference.R
# Writes, next to this script, gzipped TSVs on the real DLPC counts
# (resources/data/dlpc_liver, Sample724 renamed Sample725, genes kept with
# >= 10 counts in >= 3 samples):
#   deseq2_batch_<contrast>.tsv.gz   design ~ batch + Group, results(contrast=)
#   deseq2_lrt_Group.tsv.gz          LRT, full ~ batch + Group, reduced ~ batch
#   deseq2_shrink_normal_<contrast>.tsv.gz  ~ Group, lfcShrink(type = "normal")
#   deseq2_mean_poscounts_Disease_vs_Chow.tsv.gz  ~ Group, DESeq(fitType = "mean", sfType = "poscounts")
#   deseq2_numeric_Disease_vs_Chow.tsv.gz  design ~ weight + Group, weight a number
#   deseq2_lfc1_Disease_vs_Chow.tsv.gz  ~ Group, results(lfcThreshold = 1): H0 |log2FC| <= 1 (greaterAbs)
# `weight` is SYNTHETIC too (synthetic_numeric_sheet.tsv.gz): 20 + 1.5 x (rank of the
# sample id modulo 5), a numeric covariate with no real effect, to check that a number
# in the design is modelled as one slope (numeric: [weight]), as DESeq2 does.
# `batch` is SYNTHETIC (no such column in the published sheet): within each
# Group, samples sorted by id alternate b1, b2, b1, ... so the design is
# balanced and of full rank. It carries no real batch effect.
# (The ~ Group tables deseq2_<contrast>.tsv.gz came from the staged reference.)
suppressMessages(library(DESeq2))
out <- "tests/data/deseq2_reference"
counts <- read.delim(gzfile("resources/data/dlpc_liver/counts.tsv.gz"), row.names = 1, check.names = FALSE)
colnames(counts)[colnames(counts) == "Sample724"] <- "Sample725"
sheet <- read.delim("config/samples/dlpc_liver.tsv", colClasses = "character")
sheet <- sheet[order(sheet$sample), ]
sheet$batch <- ave(sheet$sample, sheet$Group, FUN = function(s) c("b1", "b2")[(seq_along(s) - 1) %% 2 + 1])
rownames(sheet) <- sheet$sample
counts <- as.matrix(counts[, sheet$sample])
counts <- counts[rowSums(counts >= 10) >= 3, ]
sheet$Group <- factor(sheet$Group, levels = c("Chow", "Disease", "Disease/Agonist"))
sheet$batch <- factor(sheet$batch)
write.table(sheet[, c("sample", "Group", "batch")], gzfile(file.path(out, "synthetic_batch_sheet.tsv.gz")),
            sep = "\t", quote = FALSE, row.names = FALSE)
contrasts <- list(Disease_vs_Chow = c("Group", "Disease", "Chow"),
                  DiseaseAgonist_vs_Chow = c("Group", "Disease/Agonist", "Chow"),
                  DiseaseAgonist_vs_Disease = c("Group", "Disease/Agonist", "Disease"))
save <- function(res, name) {
  df <- data.frame(gene_id = rownames(res), as.data.frame(res), check.names = FALSE)
  write.table(df, gzfile(file.path(out, paste0(name, ".tsv.gz"))), sep = "\t", quote = FALSE, row.names = FALSE)
}
t0 <- Sys.time()
dds <- DESeqDataSetFromMatrix(counts, sheet, design = ~ batch + Group)
dds <- DESeq(dds, quiet = TRUE)
for (n in names(contrasts)) save(results(dds, contrast = contrasts[[n]]), paste0("deseq2_batch_", n))
lrt <- DESeq(dds, test = "LRT", reduced = ~ batch, quiet = TRUE)
save(results(lrt), "deseq2_lrt_Group")
one <- DESeq(DESeqDataSetFromMatrix(counts, sheet, design = ~ Group), quiet = TRUE)
for (n in names(contrasts)) {
  save(lfcShrink(one, contrast = contrasts[[n]], type = "normal", quiet = TRUE), paste0("deseq2_shrink_normal_", n))
}
save(results(one, contrast = contrasts$Disease_vs_Chow, lfcThreshold = 1), "deseq2_lfc1_Disease_vs_Chow")
opt <- DESeq(DESeqDataSetFromMatrix(counts, sheet, design = ~ Group), fitType = "mean", sfType = "poscounts",
             quiet = TRUE)
save(results(opt, contrast = contrasts$Disease_vs_Chow), "deseq2_mean_poscounts_Disease_vs_Chow")
sheet$weight <- 20 + 1.5 * ((seq_len(nrow(sheet)) - 1) %% 5)
write.table(sheet[, c("sample", "Group", "weight")], gzfile(file.path(out, "synthetic_numeric_sheet.tsv.gz")),
            sep = "\t", quote = FALSE, row.names = FALSE)
num <- DESeq(DESeqDataSetFromMatrix(counts, sheet, design = ~ weight + Group), quiet = TRUE)
save(results(num, contrast = contrasts$Disease_vs_Chow), "deseq2_numeric_Disease_vs_Chow")
message("DESeq2 ", packageVersion("DESeq2"), " (", R.version.string, "): done in ",
        round(as.numeric(Sys.time() - t0, units = "secs"), 1), " s")
