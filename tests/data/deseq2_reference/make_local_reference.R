#!/usr/bin/env Rscript
# DESeq2's fitType = "local" (locfit) references for tests/unit/test_locfit.py and
# tests/unit/test_deseq2_local.py. Run from the repository root (needs r-base-core r-bioc-deseq2,
# which brings r-cran-locfit):
#   Rscript tests/data/deseq2_reference/make_local_reference.R
# Writes, next to this script:
#   locfit_cases.tsv.gz        locfit(y ~ x, weights = w) with locfit's defaults on three SYNTHETIC
#                              inputs (seeded here; smooth / tied x / n = 9), and predict() on a grid
#                              running one unit past both ends: rows `data` (x, y, w) and `pred` (x, fit)
#   deseq2_local_Disease_vs_Chow.tsv.gz   real DLPC counts (as make_reference.R), ~ Group,
#                              DESeq(fitType = "local"), results() plus dispGeneEst, dispFit, dispersion
#   deseq2_local_vst.tsv.gz    varianceStabilizingTransformation(blind = FALSE) of that fit (the local
#                              trend's numerical integration; vst() would refit a parametric trend on
#                              1,000 genes), every 16th gene
#   synthetic_rising_counts.tsv.gz, synthetic_rising_sheet.tsv.gz   SYNTHETIC counts (2,000 genes x 8
#                              samples, negative binomial, dispersion 0.01 * mean^0.4, rising with the
#                              mean, so that DESeq2's parametric trend fails) and their two groups
#   deseq2_rising_b_vs_a.tsv.gz   DESeq() with default fitType on them: parametric fails and DESeq2
#                              substitutes the local fit; results() plus the dispersion columns
#   deseq2_vst_blind_dlpc.tsv.gz, deseq2_vst_blind_rising.tsv.gz   vst(blind = TRUE) (what the bulk
#                              QC's PCA uses: a trend on 1,000 genes sampled by mean) of the DLPC counts
#                              (parametric trend; every 16th gene) and of the rising counts (parametric
#                              fails, local used; every 4th gene)
suppressMessages({
  library(DESeq2)
  library(locfit)
})
out <- "tests/data/deseq2_reference"
t0 <- Sys.time()

# --- locfit itself ---
set.seed(7)
cases <- list(
  smooth = local({ x <- runif(200, 0, 10); list(x = x, y = sin(x) + 0.3 * rnorm(200), w = runif(200, 0.5, 2)) }),
  ties = local({ x <- round(runif(60, -3, 3)); list(x = x, y = x^2 / 4 + rnorm(60), w = exp(rnorm(60))) }),
  small = local({ x <- sort(runif(9, 1, 2)); list(x = x, y = log(x) + 0.05 * rnorm(9), w = rep(1, 9)) })
)
rows <- list()
for (name in names(cases)) {
  cs <- cases[[name]]
  fit <- locfit(y ~ x, data = data.frame(x = cs$x, y = cs$y), weights = cs$w)
  grid <- seq(min(cs$x) - 1, max(cs$x) + 1, length.out = 121)
  rows[[length(rows) + 1]] <- data.frame(case = name, kind = "data", x = cs$x, y = cs$y, w = cs$w, fit = NA)
  rows[[length(rows) + 1]] <- data.frame(case = name, kind = "pred", x = grid, y = NA, w = NA,
                                         fit = predict(fit, data.frame(x = grid)))
}
write.table(do.call(rbind, rows), gzfile(file.path(out, "locfit_cases.tsv.gz")), sep = "\t", quote = FALSE,
            row.names = FALSE)

save <- function(dds, res, name) {
  df <- data.frame(gene_id = rownames(res), as.data.frame(res), dispGeneEst = mcols(dds)$dispGeneEst,
                   dispFit = mcols(dds)$dispFit, dispersion = dispersions(dds), check.names = FALSE)
  write.table(df, gzfile(file.path(out, paste0(name, ".tsv.gz"))), sep = "\t", quote = FALSE, row.names = FALSE)
}

# --- real DLPC counts, fitType = "local" ---
counts <- read.delim(gzfile("resources/data/dlpc_liver/counts.tsv.gz"), row.names = 1, check.names = FALSE)
colnames(counts)[colnames(counts) == "Sample724"] <- "Sample725"
sheet <- read.delim("config/samples/dlpc_liver.tsv", colClasses = "character")
sheet <- sheet[order(sheet$sample), ]
rownames(sheet) <- sheet$sample
counts <- as.matrix(counts[, sheet$sample])
counts <- counts[rowSums(counts >= 10) >= 3, ]
sheet$Group <- factor(sheet$Group, levels = c("Chow", "Disease", "Disease/Agonist"))
dds <- DESeq(DESeqDataSetFromMatrix(counts, sheet, design = ~ Group), fitType = "local", quiet = TRUE)
save(dds, results(dds, contrast = c("Group", "Disease", "Chow")), "deseq2_local_Disease_vs_Chow")
v <- assay(varianceStabilizingTransformation(dds, blind = FALSE))
keep <- seq(1, nrow(v), by = 16)
write.table(data.frame(gene_id = rownames(v)[keep], v[keep, ], check.names = FALSE),
            gzfile(file.path(out, "deseq2_local_vst.tsv.gz")), sep = "\t", quote = FALSE, row.names = FALSE)

# --- SYNTHETIC counts whose parametric trend fails ---
set.seed(1)
n <- 2000
m <- 8
mu <- exp(runif(n, log(5), log(5000)))
cts <- matrix(rnbinom(n * m, mu = mu, size = 1 / (0.01 * mu^0.4)), n, m,
              dimnames = list(sprintf("gene%04d", 1:n), sprintf("s%d", 1:m)))
cd <- data.frame(sample = colnames(cts), cond = rep(c("a", "b"), each = m / 2), row.names = colnames(cts))
write.table(data.frame(gene_id = rownames(cts), cts, check.names = FALSE),
            gzfile(file.path(out, "synthetic_rising_counts.tsv.gz")), sep = "\t", quote = FALSE, row.names = FALSE)
write.table(cd, gzfile(file.path(out, "synthetic_rising_sheet.tsv.gz")), sep = "\t", quote = FALSE, row.names = FALSE)
cd$cond <- factor(cd$cond)
rising <- DESeq(DESeqDataSetFromMatrix(cts, cd, design = ~ cond))
stopifnot(attr(dispersionFunction(rising), "fitType") == "local")
save(rising, results(rising, contrast = c("cond", "b", "a")), "deseq2_rising_b_vs_a")
blind <- function(dds, by, name) {
  v <- assay(vst(dds, blind = TRUE))
  keep <- seq(1, nrow(v), by = by)
  write.table(data.frame(gene_id = rownames(v)[keep], v[keep, ], check.names = FALSE),
              gzfile(file.path(out, paste0(name, ".tsv.gz"))), sep = "\t", quote = FALSE, row.names = FALSE)
}
blind(DESeqDataSetFromMatrix(counts, sheet, design = ~ Group), 16, "deseq2_vst_blind_dlpc")
blind(DESeqDataSetFromMatrix(cts, cd, design = ~ cond), 4, "deseq2_vst_blind_rising")
message("DESeq2 ", packageVersion("DESeq2"), ", locfit ", packageVersion("locfit"), " (", R.version.string,
        "): done in ", round(as.numeric(Sys.time() - t0, units = "secs"), 1), " s")
