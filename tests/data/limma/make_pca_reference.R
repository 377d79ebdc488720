#!/usr/bin/env Rscript
# References for proteomics.impute: svd and bpca, from pcaMethods 1.90.0 (apt-get install r-bioc-pcamethods),
# R 4.2.2, called as the packages proteomics users go through call it (neither is in Debian; each wrapper is one
# call, written out here):
#   svd  -- imputeLCMD 2.1's impute.wrapper.SVD(x, K): pca(x, method = "svdImpute", nPcs = K)@completeObs
#   bpca -- MsCoreUtils' impute_bpca(x) (DEP's and MSnbase's "bpca"):
#           completeObs(pca(x, method = "bpca", nPcs = ncol(x) - 1, verbose = FALSE))
# Run from the repository root:
#   Rscript tests/data/limma/make_pca_reference.R
# On the median-centred UPS1 matrix of make_reference.R (193 missing values) and on its sparser copy
# (ups1.knn_sparse_input.tsv.gz: 1,500 more cells removed); svd with K = 2 (impute.MAR's default) and K = 3.
# Writes ups1.svd_k<K>.tsv.gz, ups1.svd_sparse_k<K>.tsv.gz, ups1.bpca.tsv.gz and ups1.bpca_sparse.tsv.gz
# (proteins x runs, 17 digits), and ups1.mar_svd.tsv.gz (impute.MAR.MNAR's SVD step: the MAR proteins only).
suppressPackageStartupMessages(library(pcaMethods))
out_dir <- "tests/data/limma"
source("tests/data/limma/ups1_prep.R")
med <- apply(x, 2, median, na.rm = TRUE)
x_median <- sweep(x, 2, med, "-") + mean(med)
sparse <- read.delim(gzfile(file.path(out_dir, "ups1.knn_sparse_input.tsv.gz")), check.names = FALSE,
                     row.names = 1, colClasses = c(protein_ids = "character"))
x_sparse <- apply(as.matrix(sparse), 2, function(v) suppressWarnings(as.numeric(v)))  # format() padded NAs
rownames(x_sparse) <- rownames(sparse)
write_matrix <- function(m, file) {
  gz <- gzfile(file.path(out_dir, file), "w")
  write.table(data.frame(protein_ids = rownames(m), format(as.data.frame(m), digits = 17), check.names = FALSE),
              gz, sep = "\t", quote = FALSE, row.names = FALSE, na = "NA")
  close(gz)
}
svd_wrapper <- function(dataSet.mvs, K) pca(dataSet.mvs, method = "svdImpute", nPcs = K, verbose = FALSE)@completeObs
for (K in 2:3) {
  write_matrix(svd_wrapper(x_median, K), sprintf("ups1.svd_k%d.tsv.gz", K))
  write_matrix(svd_wrapper(x_sparse, K), sprintf("ups1.svd_sparse_k%d.tsv.gz", K))
}
# impute.MAR.MNAR(method.MAR = "SVD"): impute.MAR's impute.wrapper.SVD(x, K = 2) on model.Selector's
# missing-at-random proteins (the "mar" column make_reference.R wrote)
mar <- read.delim(gzfile(file.path(out_dir, "ups1.mar_mnar_knn.tsv.gz")), colClasses = c(protein_ids = "character"))
write_matrix(svd_wrapper(x_median[mar$protein_ids[mar$mar == 1], ], 2), "ups1.mar_svd.tsv.gz")
bpca_wrapper <- function(x) completeObs(pca(x, method = "bpca", nPcs = ncol(x) - 1, verbose = FALSE))
write_matrix(bpca_wrapper(x_median), "ups1.bpca.tsv.gz")
write_matrix(bpca_wrapper(x_sparse), "ups1.bpca_sparse.tsv.gz")
cat(sprintf("missing: %d and %d; pcaMethods %s\n", sum(is.na(x_median)), sum(is.na(x_sparse)),
            as.character(packageVersion("pcaMethods"))))
