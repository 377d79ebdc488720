#!/usr/bin/env Rscript
# Reference for proteomics.impute: mle -- imputeLCMD 2.1's impute.wrapper.MLE(x), whose whole body is
#   s <- prelim.norm(x); thetahat <- em.norm(s, showits = FALSE); rngseed(1234567); imp.norm(s, thetahat, x)
# (imputeLCMD needs packages Debian lacks; its wrapper is written out here), with norm 1.0-11.1 (not in
# Debian: R CMD INSTALL of its source, github cran/norm @4c778c2; needs gfortran), R 4.2.2.
# Run from the repository root:
#   Rscript tests/data/limma/make_mle_reference.R
# Each matrix in a fresh R process (norm's Box-Muller keeps its second deviate across calls), proteins as the
# observations and runs as the variables, as imputeLCMD passes them: the median-centred UPS1 matrix of
# make_reference.R (193 missing values), its sparser copy (ups1.knn_sparse_input.tsv.gz, 1,656 missing) and, for
# impute.MAR.MNAR(method.MAR = "MLE"), its proteins model.Selector calls missing at random (ups1.mar_mle); and
# mle_singular_input.tsv (SYNTHETIC: 3 proteins x 5 runs, numpy seed 4, 2 missing) whose runs' covariance is
# singular, so that numpy's solve stops where norm's sweep goes on (mle_singular).
# Writes ups1.mle<_sparse>.theta.tsv (EM's estimate on the original scale: the runs' means and covariance, and
# EM's iterations in the first row) and ups1.mle<_sparse>.tsv.gz (the imputed matrix, 17 digits).
out_dir <- "tests/data/limma"
args <- commandArgs(trailingOnly = TRUE)
if (!length(args)) {
  for (what in c("median", "sparse", "mar", "singular")) {
    stopifnot(system2("Rscript", c("tests/data/limma/make_mle_reference.R", what)) == 0)
  }
  quit(save = "no")
}
suppressPackageStartupMessages(library(norm))
if (args[1] == "median") {
  source("tests/data/limma/ups1_prep.R")
  med <- apply(x, 2, median, na.rm = TRUE)
  m <- sweep(x, 2, med, "-") + mean(med)
  name <- "ups1.mle"
} else if (args[1] == "mar") {  # impute.MAR.MNAR(method.MAR = "MLE"): impute.MAR's MLE on model.Selector's MAR proteins
  source("tests/data/limma/ups1_prep.R")
  med <- apply(x, 2, median, na.rm = TRUE)
  mar <- read.delim(gzfile(file.path(out_dir, "ups1.mar_mnar_knn.tsv.gz")), colClasses = c(protein_ids = "character"))
  m <- (sweep(x, 2, med, "-") + mean(med))[mar$protein_ids[mar$mar == 1], ]
  name <- "ups1.mar_mle"
} else if (args[1] == "singular") {
  m <- as.matrix(read.delim(file.path(out_dir, "mle_singular_input.tsv"), row.names = 1))
  name <- "mle_singular"
} else {
  sparse <- read.delim(gzfile(file.path(out_dir, "ups1.knn_sparse_input.tsv.gz")), check.names = FALSE,
                       row.names = 1, colClasses = c(protein_ids = "character"))
  m <- apply(as.matrix(sparse), 2, function(v) suppressWarnings(as.numeric(v)))  # format() padded NAs
  rownames(m) <- rownames(sparse)
  name <- "ups1.mle_sparse"
}
s <- prelim.norm(m)
it <- 0; theta <- NULL
for (k in 1:1000) {  # em.norm's loop, counting its iterations (em.norm(maxits = k) restarts from the start)
  nxt <- em.norm(s, start = if (is.null(theta)) .Fortran("stvaln", s$d, numeric(s$d), s$p, s$psi,
                                                              PACKAGE = "norm")[[2]] else theta,
                 showits = FALSE, maxits = 1)
  it <- k
  done <- !is.null(theta) && max(abs(theta - nxt)) <= 1e-4
  theta <- nxt
  if (done) break
}
stopifnot(max(abs(theta - em.norm(s, showits = FALSE))) == 0)  # the same estimate as em.norm itself
par <- getparam.norm(s, theta)
est <- rbind(par$mu, par$sigma)
dimnames(est) <- list(c("mean", colnames(m)), colnames(m))
est <- data.frame(what = rownames(est), format(as.data.frame(est), digits = 17), iterations = c(it, rep("", ncol(m))),
                  check.names = FALSE)
write.table(est, file.path(out_dir, paste0(name, ".theta.tsv")), sep = "\t", quote = FALSE, row.names = FALSE)
rngseed(1234567)
imputed <- imp.norm(s, theta, m)
gz <- gzfile(file.path(out_dir, paste0(name, ".tsv.gz")), "w")
write.table(data.frame(protein_ids = rownames(imputed), format(as.data.frame(imputed), digits = 17),
                       check.names = FALSE), gz, sep = "\t", quote = FALSE, row.names = FALSE)
close(gz)
cat(sprintf("%s: %d missing, EM %d iterations; norm %s\n", name, sum(is.na(m)), it,
            as.character(packageVersion("norm"))))
