# Reference summaries of the UPS1 peptides (resources/data/ups1_peptides) for tests/unit/test_peptides.py.
# Run from the repository root:  Rscript tests/data/peptides/make_reference.R [path/to/iq/R/iq.R]
# R 4.2.2, DEqMS 1.25.0 (medianSweeping), stats::medpolish; MaxLFQ by iq 2.0.0's own R function maxLFQ
# (github tvpham/iq @03bab81, R/iq.R, BSD-3; not on Debian, so its file is sourced from a checkout given as
# the argument -- its definitions only, nothing else of the package is used); DIA-NN's own MaxLFQ by the diann R
# package's diann_maxlfq (github vdemichev/diann-rpackage @af538f6, installed from that snapshot).
suppressMessages(library(DEqMS))
suppressMessages(library(diann))

d <- read.delim("resources/data/ups1_peptides/peptides_trimmed.tsv.gz", check.names = FALSE,
                stringsAsFactors = FALSE)
runs <- c("10_R1", "10_R2", "10_R3", "100_R1", "100_R2", "100_R3")
x <- as.matrix(d[paste("Intensity", runs)])
colnames(x) <- runs
x[!is.na(x) & x == 0] <- NA
x <- log2(x)
keep <- rowSums(!is.na(x)) > 0          # peptides with a value
x <- x[keep, ]
protein <- d[["Leading razor protein"]][keep]
cat(sum(keep), "peptides with a value,", length(unique(protein)), "proteins\n")

# Tukey's median polish per protein, as MSstats: overall + column effect
not_converged <- 0
polish <- t(sapply(split(seq_along(protein), protein), function(i) {
  m <- withCallingHandlers(medpolish(x[i, , drop = FALSE], na.rm = TRUE, trace.iter = FALSE),
                           warning = function(w) {
                             not_converged <<- not_converged + 1
                             invokeRestart("muffleWarning")
                           })
  c(m$overall + m$col)
}))
cat(not_converged, "proteins where medpolish did not converge in 10 iterations\n")
colnames(polish) <- runs

# DEqMS's medianSweeping (group column 2 of a data frame: id, protein, samples)
df <- data.frame(peptide = d$Sequence[keep], protein = protein, x, check.names = FALSE)
sweep <- as.matrix(medianSweeping(df, group_col = 2))

# sum of the linear intensities
total <- t(sapply(split(seq_along(protein), protein), function(i) {
  s <- colSums(2^x[i, , drop = FALSE], na.rm = TRUE)
  ifelse(colSums(!is.na(x[i, , drop = FALSE])) > 0, log2(s), NA)
}))

iq_file <- commandArgs(trailingOnly = TRUE)[1]
maxlfq <- NULL
if (!is.na(iq_file)) {
  iq <- new.env()
  sys.source(iq_file, envir = iq)
  split_component <- 0
  maxlfq <- t(sapply(split(seq_along(protein), protein), function(i) {
    r <- iq$maxLFQ(x[i, , drop = FALSE])
    if (r$annotation != "") split_component <<- split_component + 1
    r$estimate
  }))
  colnames(maxlfq) <- runs
  cat(split_component, "proteins with samples in separate components\n")
  writeLines(as.character(split_component), "tests/data/peptides/ups1_maxlfq_split.txt")
}

write_one <- function(m, name) {
  out <- data.frame(protein = rownames(m), m, check.names = FALSE)
  gz <- gzfile(file.path("tests/data/peptides", name), "w")
  write.table(out, gz, sep = "\t", quote = FALSE, row.names = FALSE, na = "NA")
  close(gz)
}
# DIA-NN's MaxLFQ (natural log, a 1e-4 ridge towards each sample's strongest peptide), on the long table
long <- data.frame(run = rep(runs, each = nrow(x)), protein = rep(protein, length(runs)),
                   peptide = rep(d$Sequence[keep], length(runs)), q = as.vector(2^x))
long <- long[!is.na(long$q), ]
dlfq <- log2(diann_maxlfq(long, sample.header = "run", group.header = "protein", id.header = "peptide",
                          quantity.header = "q"))
dlfq <- dlfq[, runs]
write_one(polish, "ups1_median_polish.tsv.gz")
write_one(dlfq, "ups1_diann_maxlfq.tsv.gz")
write_one(sweep, "ups1_median_sweep.tsv.gz")
write_one(total, "ups1_sum.tsv.gz")
if (!is.null(maxlfq)) write_one(maxlfq, "ups1_maxlfq.tsv.gz")
writeLines(as.character(not_converged), "tests/data/peptides/ups1_median_polish_not_converged.txt")
count <- table(protein)
write.table(data.frame(protein = names(count), peptides = as.integer(count)),
            gzfile("tests/data/peptides/ups1_peptide_counts.tsv.gz"), sep = "\t", quote = FALSE, row.names = FALSE)
