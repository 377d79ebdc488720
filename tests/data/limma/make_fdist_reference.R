# R limma's fitFDist on SYNTHETIC variances, the reference for lsecflow.fdist (its port, which edgeR's
# quasi-likelihood route uses instead of inmoose's). Run from the repository root:
#   Rscript tests/data/limma/make_fdist_reference.R
# (R 4.2.2, limma 3.54.1). Cases: a covariate trend over 3, 5, 12 and 40 variances (natural splines of 2-4 df,
# none and some interior knots), three variances left out (df1 = 0) whose covariates lie below, above and at the
# middle of the range (predicted by the spline's linear extension), a zero variance, spread both below chance
# (df2 Inf) and above it (finite df2), and no covariate. Writes fdist.tsv: case, x, df1, covariate, scale, df2.
suppressPackageStartupMessages(library(limma))
set.seed(20261203)
rows <- list()
for (case in c("n3", "n5", "n12", "n40", "n40_wide", "n40_nocov")) {
  n <- as.integer(sub("_.*", "", sub("^n", "", case)))
  cov <- rnorm(n, 3, 2)
  df1 <- rep(4, n)
  shape <- if (grepl("wide", case) || grepl("nocov", case)) 0.3 else 3
  x <- rgamma(n, shape, shape) * exp(-0.2 * cov)
  if (n >= 12) {
    df1[1:3] <- 0
    cov[1] <- min(cov) - 3
    cov[2] <- max(cov) + 2
    x[4] <- 0
  }
  f <- if (grepl("nocov", case)) fitFDist(x, df1) else fitFDist(x, df1, covariate = cov)
  rows[[case]] <- data.frame(case = case, x = x, df1 = df1, covariate = if (grepl("nocov", case)) NA else cov,
                             scale = rep_len(f$scale, n), df2 = f$df2)
}
out <- do.call(rbind, rows)
write.table(format(out, digits = 17), "tests/data/limma/fdist.tsv", sep = "\t", quote = FALSE, row.names = FALSE)
print(unique(out[, c("case", "df2")]))
