#!/usr/bin/env Rscript
# References for lsecflow.smooth_spline (a port of R's smooth.spline with its default GCV) and for
# de.deqms: spline (DEqMS's spectraCounteBayes(fit.method = "spline")), R 4.2.2, DEqMS 1.25 (installed from
# github yafeng/DEqMS @b2c7a6e as make_reference.R says). Run from the repository root:
#   Rscript tests/data/limma/make_spline_reference.R
# Writes
#   smooth_spline.tsv.gz         smooth.spline(x, y) with every default (cv = FALSE: GCV over spar in
#                                [-1.5, 1.5]) on real data: R's datasets cars (dist ~ speed: 50 points, 19
#                                distinct x, so ties and every knot) and faithful (waiting ~ eruptions: 272
#                                points, 126 distinct x, so .nknots.smspl's 71 knots), and on the UPS1 fit's
#                                log residual variance ~ log2 'Razor + unique peptides' (DEqMS's own call);
#                                columns case, x, y, fitted (fitted(), per point)
#   smooth_spline_params.tsv     per case: spar, lambda, df (sum of leverages), crit (GCV), iterations, ratio
#   ups1.deqms_spline.tsv.gz     spectraCounteBayes(fit, fit.method = "spline") on make_reference.R's fit of
#                                the median-centred UPS1 matrix, count = 'Razor + unique peptides'
suppressPackageStartupMessages({library(limma); library(DEqMS)})
out_dir <- "tests/data/limma"
source("tests/data/limma/ups1_prep.R")
med <- apply(x, 2, median, na.rm = TRUE)
x_median <- sweep(x, 2, med, "-") + mean(med)
design <- model.matrix(~ 0 + group)
colnames(design) <- levels(group)
fit_dq <- eBayes(contrasts.fit(lmFit(x_median, design), makeContrasts(fmol25 - fmol10, levels = design)))
fit_dq$count <- setNames(tab$`Razor + unique peptides`, tab$`Protein IDs`)[rownames(fit_dq$coefficients)]

cases <- list(cars = list(x = cars$speed, y = cars$dist),
              faithful = list(x = faithful$eruptions, y = faithful$waiting),
              ups1_deqms = list(x = log2(fit_dq$count), y = log(fit_dq$sigma^2)))
points <- list()
params <- list()
for (name in names(cases)) {
  s <- smooth.spline(cases[[name]]$x, cases[[name]]$y)
  points[[name]] <- data.frame(case = name, x = cases[[name]]$x, y = cases[[name]]$y, fitted = fitted(s))
  params[[name]] <- data.frame(case = name, spar = s$spar, lambda = s$lambda, df = s$df, crit = s$cv.crit,
                               iterations = s$iparms[["iter"]], ratio = s$ratio, knots = s$fit$nk - 2)
}
gz <- gzfile(file.path(out_dir, "smooth_spline.tsv.gz"), "w")
write.table(format(do.call(rbind, points), digits = 17), gz, sep = "\t", quote = FALSE, row.names = FALSE)
close(gz)
write.table(format(do.call(rbind, params), digits = 17), file.path(out_dir, "smooth_spline_params.tsv"),
            sep = "\t", quote = FALSE, row.names = FALSE)
print(do.call(rbind, params))

d <- spectraCounteBayes(fit_dq, fit.method = "spline", coef_col = 1)
res <- data.frame(protein_ids = rownames(d$coefficients), count = fit_dq$count, logFC = d$coefficients[, 1],
                  sca_t = d$sca.t[, 1], sca_P = d$sca.p[, 1], sca_adj = p.adjust(d$sca.p[, 1], "BH"),
                  post_var = d$sca.postvar, prior_var = d$sca.priorvar, post_df = d$df.residual + d$sca.dfprior,
                  d0 = d$sca.dfprior, trend = fitted(d$model), check.names = FALSE)
gz <- gzfile(file.path(out_dir, "ups1.deqms_spline.tsv.gz"), "w")
write.table(format(res, digits = 15), gz, sep = "\t", quote = FALSE, row.names = FALSE)
close(gz)
cat(sprintf("ups1.deqms_spline.tsv.gz: d0 %g, %d at adj.P < 0.05 (DEqMS %s)\n", d$sca.dfprior,
            sum(res$sca_adj < 0.05), as.character(packageVersion("DEqMS"))))
