# References for tests/unit/test_diann_report.py from report_trimmed.tsv.gz (a real DIA-NN 1.8 report, see
# tests/data/README.md). Run from the repository root:
#   Rscript tests/data/diann_report/make_reference.R path/to/iq/R/iq.R
# R 4.2.2; the diann R package (github vdemichev/diann-rpackage @af538f6, CC BY 4.0; R CMD INSTALL of its
# snapshot without the committed .o/.dll files) for diann_matrix and diann_maxlfq; iq 2.0.0's own R maxLFQ
# (github tvpham/iq @03bab81, R/iq.R, BSD-3, sourced from the path given); stats::medpolish.
suppressMessages(library(diann))
out <- "tests/data/diann_report"
d <- read.delim(file.path(out, "report_trimmed.tsv.gz"), stringsAsFactors = FALSE, check.names = FALSE)
q <- 0.01
# the precursor matrix as diann_matrix makes it (Q.Value and PG.Q.Value <= q, quantity > 0)
m <- diann_matrix(d, id.header = "Precursor.Id", quantity.header = "Precursor.Normalised", q = q, pg.q = q)
cat(nrow(m), "precursors x", ncol(m), "runs\n")
write_one <- function(x, name) {
  if (is.null(colnames(x))) colnames(x) <- colnames(m)
  gz <- gzfile(file.path(out, name), "w")
  write.table(data.frame(id = rownames(x), x, check.names = FALSE), gz, sep = "\t", quote = FALSE,
              row.names = FALSE, na = "NA")
  close(gz)
}
write_one(m, "precursors.tsv.gz")
# proteomics.qvalue_columns: [Q.Value, Protein.Q.Value, PG.Q.Value, GG.Q.Value]
write_one(diann_matrix(d, id.header = "Precursor.Id", quantity.header = "Precursor.Normalised", q = q, protein.q = q,
                       pg.q = q, gg.q = q), "precursors_every_q.tsv.gz")
# proteomics.quantity_column: Precursor.Quantity with proteomics.proteotypic_only: true
write_one(diann_matrix(d, id.header = "Precursor.Id", quantity.header = "Precursor.Quantity", proteotypic.only = TRUE,
                       q = q, pg.q = q), "precursors_raw_proteotypic.tsv.gz")
group <- setNames(d[["Protein.Group"]], d[["Precursor.Id"]])[rownames(m)]
x <- log2(m)
rows <- split(seq_len(nrow(x)), group)
iq <- new.env()
sys.source(commandArgs(trailingOnly = TRUE)[1], envir = iq)
write_one(t(sapply(rows, function(i) iq$maxLFQ(x[i, , drop = FALSE])$estimate)), "iq_maxlfq.tsv.gz")
write_one(t(sapply(rows, function(i) {
  p <- suppressWarnings(medpolish(x[i, , drop = FALSE], na.rm = TRUE, trace.iter = FALSE)); p$overall + p$col
})), "median_polish.tsv.gz")
# DIA-NN's own MaxLFQ (its R package's), on the same filtered rows, as log2
kept <- d[d[["Q.Value"]] <= q & d[["PG.Q.Value"]] <= q & d[["Precursor.Normalised"]] > 0, ]
write_one(log2(diann_maxlfq(kept, group.header = "Protein.Group", id.header = "Precursor.Id",
                            quantity.header = "Precursor.Normalised")), "diann_maxlfq.tsv.gz")
