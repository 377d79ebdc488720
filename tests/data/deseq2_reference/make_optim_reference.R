#!/usr/bin/env Rscript
# R's optim fallback of DESeq2 (fitNbinomGLMsOptim) on two real DLPC genes, for
# tests/unit/test_deseq2.py. Run from the repository root (needs r-base-core r-bioc-deseq2):
#   Rscript tests/data/deseq2_reference/make_optim_reference.R
# Writes r_optim.tsv next to this script: for each gene and starting point, the
# coefficients optim(method = "L-BFGS-B", lower = -30, upper = 30) returns, with
# DESeq2's objective (negative log posterior, log2 scale, prior precision 1e-6),
# R DESeq2's size factors and dispersions of the ~ Group fit (shipped here as
# deseq2_size_factors.tsv.gz and deseq2_dispersions.tsv.gz) and the ~ Group model matrix.
# Reg1 (one sample with 4,248 counts, dispersion ~10) and Anxa10 (zero counts in every
# Disease/Agonist sample: its MLE is at -inf) are genes whose IRLS does not converge.
# The far start is one inmoose's IRLS handed to the optimiser for Reg1 (at a box corner
# of the line search the likelihood must stay finite).
out <- "tests/data/deseq2_reference"
counts <- read.delim(gzfile("resources/data/dlpc_liver/counts.tsv.gz"), row.names = 1, check.names = FALSE)
colnames(counts)[colnames(counts) == "Sample724"] <- "Sample725"
sheet <- read.delim("config/samples/dlpc_liver.tsv", colClasses = "character")
sheet <- sheet[order(sheet$sample), ]
sheet$Group <- factor(sheet$Group, levels = c("Chow", "Disease", "Disease/Agonist"))
sf <- read.delim(gzfile(file.path(out, "deseq2_size_factors.tsv.gz")), row.names = 1)
disp <- read.delim(gzfile(file.path(out, "deseq2_dispersions.tsv.gz")), row.names = 1)
x <- model.matrix(~ Group, sheet)
lambda <- rep(1e-6, ncol(x))
genes <- c(Reg1 = "ENSMUSG00000059654.8", Anxa10 = "ENSMUSG00000031635.15")
starts <- list(zero = c(0, 0, 0), far = c(42.56610565, 17.51758739, -41.78336121))
rows <- list()
for (symbol in names(genes)) {
  id <- genes[[symbol]]
  k <- as.numeric(counts[id, sheet$sample])
  nf <- sf[sheet$sample, "size_factor"]
  alpha <- disp[id, "dispersion"]
  objectiveFn <- function(p) {  # DESeq2's fitNbinomGLMsOptim, verbatim
    mu_row <- as.numeric(nf * 2^(x %*% p))
    logLike <- sum(dnbinom(k, mu = mu_row, size = 1 / alpha, log = TRUE))
    logPrior <- sum(dnorm(p, 0, sqrt(1 / lambda), log = TRUE))
    negLogPost <- -1 * (logLike + logPrior)
    if (is.finite(negLogPost)) negLogPost else 10^300
  }
  for (start in names(starts)) {
    o <- optim(starts[[start]], objectiveFn, method = "L-BFGS-B", lower = -30, upper = 30)
    rows[[length(rows) + 1]] <- data.frame(gene_id = id, symbol = symbol, start = start, b0 = o$par[1],
                                           b1 = o$par[2], b2 = o$par[3], value = o$value,
                                           convergence = o$convergence)
  }
}
write.table(do.call(rbind, rows), file.path(out, "r_optim.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)
