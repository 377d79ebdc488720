# tximport references for lsecflow.transcripts (per-sample salmon / kallisto files summarised to genes).
#
# Run from the repository root:
#   Rscript tests/data/tximport/make_reference.R [<tximportData checkout>]
# With the checkout (github mikelove/tximportData @d299298, GPL >= 2), first writes the subset shipped here:
# every 8th gene of its tx2gene.csv (in the file's order) with all of its transcripts, plus the quantified
# transcripts that tx2gene lacks, for the six GEUVADIS samples quantified by salmon 0.6.0 and kallisto --
# each kept line copied unchanged (no number reformatted). Then, on the shipped subset, runs tximport
# (R 4.2.2, tximport 1.26.1) for both quantifiers and every countsFromAbundance, and writes
#   <type>.<countsFromAbundance>.counts.tsv.gz (genes x samples), <type>.abundance.tsv.gz, <type>.length.tsv.gz
# at 17 significant digits. CI reads the tables; it needs no R.
suppressPackageStartupMessages(library(tximport))
out <- "tests/data/tximport"
runs <- c("ERR188021", "ERR188088", "ERR188288", "ERR188297", "ERR188329", "ERR188356")
files <- list(salmon = "quant.sf", kallisto = "abundance.tsv")

args <- commandArgs(trailingOnly = TRUE)
if (length(args) == 1) {
  ext <- file.path(args[1], "inst", "extdata")
  tx_lines <- readLines(file.path(ext, "tx2gene.csv"))
  body <- tx_lines[-1]
  gene <- sub("^[^,]*,", "", body)
  keep_genes <- unique(gene)[seq(1, length(unique(gene)), by = 8)]
  keep_body <- body[gene %in% keep_genes]
  keep_tx <- sub(",.*$", "", keep_body)
  con <- gzfile(file.path(out, "tx2gene.csv.gz"), "w"); writeLines(c(tx_lines[1], keep_body), con); close(con)
  for (type in names(files)) {
    dir.create(file.path(out, type), showWarnings = FALSE)
    for (run in runs) {
      lines <- readLines(file.path(ext, type, run, files[[type]]))
      ids <- sub("\t.*$", "", lines[-1])
      sel <- ids %in% keep_tx | !(ids %in% sub(",.*$", "", body))
      con <- gzfile(file.path(out, type, paste0(run, ".", files[[type]], ".gz")), "w")
      writeLines(c(lines[1], lines[-1][sel]), con); close(con)
    }
  }
}

tx2gene <- read.csv(file.path(out, "tx2gene.csv.gz"))
write_table <- function(m, name) {
  df <- data.frame(gene_id = rownames(m), apply(m, 2, sprintf, fmt = "%.17g"), check.names = FALSE)
  con <- gzfile(file.path(out, name), "w")
  write.table(df, con, sep = "\t", quote = FALSE, row.names = FALSE); close(con)
}
for (type in names(files)) {
  paths <- file.path(out, type, paste0(runs, ".", files[[type]], ".gz"))
  names(paths) <- runs
  for (cfa in c("no", "scaledTPM", "lengthScaledTPM")) {
    txi <- tximport(paths, type = type, tx2gene = tx2gene, countsFromAbundance = cfa)
    write_table(txi$counts, paste0(type, ".", cfa, ".counts.tsv.gz"))
  }
  write_table(txi$abundance, paste0(type, ".abundance.tsv.gz"))
  write_table(txi$length, paste0(type, ".length.tsv.gz"))
}
cat("tximport", as.character(packageVersion("tximport")), "on", R.version.string, "\n")
