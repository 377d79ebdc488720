# Provenance only: how peptides_trimmed.tsv.gz and truth.tsv.gz were cut from the source file.
#
# Usage (from this folder, with the source file copied next to it; reads ../ups1_spikein's table too):
#   Rscript prepare_from_source.R Exp2_R10_pept.txt
# Source: github.com/edyp-lab/DaparToolshedData
#         @ f6a44e562070f12f368756d6e7f86e9571132660, file inst/extdata/Exp2_R10_pept.txt
#         (MaxQuant peptides table with column names rewritten by the package
#          authors -- spaces as underscores; 5,633 peptides x 72 columns;
#          decoys and contaminants already removed by them)

args <- commandArgs(trailingOnly = TRUE)
src <- if (length(args) >= 1) args[1] else "Exp2_R10_pept.txt"

d <- read.delim(src, check.names = FALSE, stringsAsFactors = FALSE, na.strings = "NA")
stopifnot(nrow(d) == 5633)

runs <- c("10_R1", "10_R2", "10_R3", "100_R1", "100_R2", "100_R3")

# UPS1 accession -> HGNC symbol: the first gene name of each UPS1 group of the shipped protein table
# (../ups1_spikein/proteinGroups_trimmed.tsv.gz, named by its prepare_from_source.R's table);
# yeast peptides get no gene name (their protein id names them)
pg <- read.delim("../ups1_spikein/proteinGroups_trimmed.tsv.gz", check.names = FALSE, stringsAsFactors = FALSE)
pg <- pg[grepl("upsedyp", pg[["Majority protein IDs"]]), ]
ups_gene <- setNames(sub(";.*$", "", pg[["Gene names"]]),
                     sub("upsedyp.*$", "", pg[["Majority protein IDs"]]))
stopifnot(length(ups_gene) == 48)
lead <- d$Leading_razor_protein
ups <- grepl("ups\\|", lead)
gene <- ifelse(ups, ups_gene[sub("ups\\|.*$", "", lead)], "")
stopifnot(!any(is.na(gene)))

# keep / rename to MaxQuant's own spelling of peptides.txt columns; values unchanged
# (the source writes a missing intensity NA where MaxQuant writes 0: kept as empty cells)
out <- data.frame(Sequence = d$Sequence, Proteins = d$Proteins,
                  `Leading razor protein` = lead, `Gene names` = gene,
                  setNames(d[paste0("Intensity_", runs)], paste("Intensity", runs)),
                  Reverse = "", `Potential contaminant` = "", id = d$id,
                  check.names = FALSE, stringsAsFactors = FALSE)
gz <- gzfile("peptides_trimmed.tsv.gz", "w")
write.table(out, gz, sep = "\t", quote = FALSE, row.names = FALSE, na = "")
close(gz)

# ground truth per protein (the peptides' leading razor protein): UPS1 at 100 vs 10 fmol
proteins <- unique(lead)
cls <- ifelse(grepl("ups\\|", proteins), "UPS1_human", ifelse(grepl("_YEAS", proteins), "yeast", "other"))
truth <- data.frame(id = proteins, class = cls,
                    expected_log2FC_fmol100_vs_fmol10 = ifelse(cls == "UPS1_human", log2(10), 0),
                    stringsAsFactors = FALSE)
gz <- gzfile("truth.tsv.gz", "w")
write.table(truth, gz, sep = "\t", quote = FALSE, row.names = FALSE)
close(gz)
print(table(truth$class))
