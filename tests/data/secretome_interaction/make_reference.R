#!/usr/bin/env Rscript
# Reference tables for protein contrasts in a crossed design (lsecflow's contrasts.<name>.within and
# .interaction with assay: proteomics), from R limma 3.54.1 (R 4.2.2). Run from the repository root:
#   Rscript tests/data/secretome_interaction/make_reference.R [path/to/ec_secretome_cpp]
# Input: the real HCAEC + HITAEC secretome (22 samples: cell_type x group, 2-3 each; FragPipe MaxLFQ) staged in
# ../shared/data/ec_secretome_cpp. Its repository states no licence, so the intensities are NOT shipped here:
# only these derived statistics (protein accession, logFC, t, p, BH) are, for CI to compare without R.
# Preprocessing as that folder's make_reference.R: non-human rows removed, 0 -> NA, log2, then the valid-value
# filter (below), median-centring over the kept proteins, no imputation; lmFit on each protein's observed
# samples, eBayes defaults, the coefficient of a design whose base levels make the contrast one coefficient.
#   filter "cells": >= 2 values in each cell_type x group cell (no protein has an empty cell)
#   filter "group": >= 2 values in each group over both cell types (some proteins miss a whole cell)
# Design ~ cell_type * group; contrasts:
#   cppp_in_hcaec   group CPPP vs PBS within cell_type HCAEC   (bases HCAEC, PBS; coef groupCPPP)
#   cppp_in_hitaec  group CPPP vs PBS within cell_type HITAEC  (bases HITAEC, PBS; coef groupCPPP)
#   cppp_by_cell    group CPPP vs PBS in HCAEC minus in HITAEC (bases HITAEC, PBS; coef cell_typeHCAEC:groupCPPP)
# and design ~ cell_type + group (filter "cells"), cppp_additive: group CPPP vs PBS (coef groupCPPP); and the
# moderated F test of the three cell_type:group coefficients (cells_interaction_F: protein_id, F, P.Value, adj.P.Val).
# The interaction contrast again with de.trend + de.robust, de.lm_method: robust, de.sample_weights, de.deqms
# and de.block (cells_cppp_by_cell_<option>; DEqMS installed from its source, see below).
# Writes <filter>_<contrast>.tsv.gz: protein_id, logFC, t, P.Value, adj.P.Val, df_total, s2_post (9 digits).
suppressMessages(library(limma))
args <- commandArgs(trailingOnly = TRUE)
src <- if (length(args)) args[1] else "../shared/data/ec_secretome_cpp"
out <- "tests/data/secretome_interaction"
tab <- read.delim(file.path(src, "proteins_maxlfq.tsv.gz"), check.names = FALSE, quote = "", stringsAsFactors = FALSE)
smp <- read.delim(file.path(src, "samples_all.tsv"), stringsAsFactors = FALSE)
smp <- smp[order(smp$sample), ]  # lsecflow sorts samples by id
tab <- tab[tab$Organism == "Homo sapiens", ]
x <- as.matrix(tab[, smp$intensity_column])
colnames(x) <- smp$sample
rownames(x) <- tab$`Protein ID`
x[x == 0] <- NA
x <- log2(x)
x <- x[rowSums(!is.na(x)) > 0, ]
cell <- paste(smp$cell_type, smp$group)

prepare <- function(by) {
  ok <- rep(TRUE, nrow(x))
  for (g in unique(by)) ok <- ok & rowSums(!is.na(x[, by == g, drop = FALSE])) >= 2
  y <- x[ok, , drop = FALSE]
  med <- apply(y, 2, median, na.rm = TRUE)
  sweep(y, 2, med, "-") + mean(med)
}

default_fit <- function(y, design) eBayes(lmFit(y, design))

save <- function(y, formula, cell_base, coef, name, fitter = default_fit) {
  s <- smp
  s$cell_type <- relevel(factor(s$cell_type), cell_base)
  s$group <- relevel(factor(s$group), "PBS")
  design <- model.matrix(formula, s)
  fit <- fitter(y, design)
  tt <- topTable(fit, coef = coef, number = Inf, sort.by = "none", confint = FALSE)
  res <- data.frame(protein_id = rownames(y), logFC = signif(tt$logFC, 9), t = signif(tt$t, 9),
                    P.Value = signif(tt$P.Value, 9), adj.P.Val = signif(tt$adj.P.Val, 9),
                    df_total = signif(fit$df.total, 9), s2_post = signif(fit$s2.post, 9))
  con <- gzfile(file.path(out, paste0(name, ".tsv.gz")), "w")
  write.table(res, con, sep = "\t", quote = FALSE, row.names = FALSE, na = "NA"); close(con)
  cat(sprintf("%s: %d proteins, %d with a coefficient, %d at adj.P < 0.05 (df.prior %.4g, s2.prior %.4g)\n", name,
              nrow(y), sum(!is.na(tt$logFC)), sum(tt$adj.P.Val < 0.05, na.rm = TRUE), median(fit$df.prior),
              median(fit$s2.prior)))
}

for (filter in c("cells", "group")) {
  y <- prepare(if (filter == "cells") cell else smp$group)
  save(y, ~ cell_type * group, "HCAEC", "groupCPPP", paste0(filter, "_cppp_in_hcaec"))
  save(y, ~ cell_type * group, "HITAEC", "groupCPPP", paste0(filter, "_cppp_in_hitaec"))
  save(y, ~ cell_type * group, "HITAEC", "cell_typeHCAEC:groupCPPP", paste0(filter, "_cppp_by_cell"))
  if (filter == "cells") save(y, ~ cell_type + group, "HITAEC", "groupCPPP", "cells_cppp_additive")
}
# the de options on the crossed design (the "cells" matrix, the interaction coefficient): de.trend + de.robust,
# de.lm_method: robust, de.sample_weights (arrayWeights; method auto, gene by gene as the matrix has NAs)
y <- prepare(cell)
save(y, ~ cell_type * group, "HITAEC", "cell_typeHCAEC:groupCPPP", "cells_cppp_by_cell_trend_robust",
     function(y, design) eBayes(lmFit(y, design), trend = TRUE, robust = TRUE))
save(y, ~ cell_type * group, "HITAEC", "cell_typeHCAEC:groupCPPP", "cells_cppp_by_cell_lm_robust",
     function(y, design) eBayes(lmFit(y, design, method = "robust")))
save(y, ~ cell_type * group, "HITAEC", "cell_typeHCAEC:groupCPPP", "cells_cppp_by_cell_weights",
     function(y, design) eBayes(lmFit(y, design, weights = arrayWeights(y, design))))
# de.deqms (loess, and spline: cells_cppp_by_cell_deqms_spline) on the same fit, the peptide count FragPipe's 'Combined Total Peptides': DEqMS 1.25.0 (github
# yafeng/DEqMS @b2c7a6e, R CMD INSTALL; Debian lacks it) spectraCounteBayes on lmFit's residual variances
suppressMessages(library(DEqMS))
s <- smp
s$cell_type <- relevel(factor(s$cell_type), "HITAEC"); s$group <- relevel(factor(s$group), "PBS")
fit <- eBayes(lmFit(y, model.matrix(~ cell_type * group, s)))
fit$count <- tab$`Combined Total Peptides`[match(rownames(y), tab$`Protein ID`)]
for (method in c("loess", "spline")) {
  d <- spectraCounteBayes(fit, fit.method = method)
  j <- which(colnames(d$coefficients) == "cell_typeHCAEC:groupCPPP")
  res <- data.frame(protein_id = rownames(y), logFC = signif(d$coefficients[, j], 9), t = signif(d$sca.t[, j], 9),
                    P.Value = signif(d$sca.p[, j], 9), adj.P.Val = signif(p.adjust(d$sca.p[, j], "BH"), 9),
                    df_total = signif(d$df.residual + d$sca.dfprior, 9), s2_post = signif(d$sca.postvar, 9))
  name <- if (method == "loess") "cells_cppp_by_cell_deqms" else "cells_cppp_by_cell_deqms_spline"
  con <- gzfile(file.path(out, paste0(name, ".tsv.gz")), "w")
  write.table(res, con, sep = "\t", quote = FALSE, row.names = FALSE); close(con)
  cat(sprintf("%s: %d proteins, d0 %.4g, %d at adj.P < 0.05 (DEqMS %s)\n", name, nrow(res), d$sca.dfprior,
              sum(res$adj.P.Val < 0.05), as.character(packageVersion("DEqMS"))))
}
# de.block on the same design: a SYNTHETIC-in-meaning block, the replicate number within each cell type
# ("culture": the sheet does not say whether replicates were paired culture runs; the arithmetic is what is
# checked): duplicateCorrelation, then lmFit(block, correlation) and eBayes
culture <- paste(smp$cell_type, smp$replicate, sep = "_")
design <- model.matrix(~ cell_type * group, s)
dc <- duplicateCorrelation(y, design, block = culture)
fit <- eBayes(lmFit(y, design, block = culture, correlation = dc$consensus.correlation))
tt <- topTable(fit, coef = "cell_typeHCAEC:groupCPPP", number = Inf, sort.by = "none")
res <- data.frame(protein_id = rownames(y), logFC = signif(tt$logFC, 9), t = signif(tt$t, 9),
                  P.Value = signif(tt$P.Value, 9), adj.P.Val = signif(tt$adj.P.Val, 9),
                  df_total = signif(fit$df.total, 9), s2_post = signif(fit$s2.post, 9))
con <- gzfile(file.path(out, "cells_cppp_by_cell_block.tsv.gz"), "w")
write.table(res, con, sep = "\t", quote = FALSE, row.names = FALSE); close(con)
cat(sprintf("cells_cppp_by_cell_block: consensus correlation %.9g, %d at adj.P < 0.05\n", dc$consensus.correlation,
            sum(res$adj.P.Val < 0.05)))
# the interaction term as a whole (de.test: lrt, de.reduced: ~ cell_type + group): limma's moderated F of its
# three coefficients, topTable(coef = ...) on the fit of the "cells" matrix
y <- prepare(cell)
s <- smp
s$cell_type <- relevel(factor(s$cell_type), "HCAEC"); s$group <- relevel(factor(s$group), "PBS")
fit <- eBayes(lmFit(y, model.matrix(~ cell_type * group, s)))
tt <- topTable(fit, coef = grep(":", colnames(fit$coefficients)), number = Inf, sort.by = "none")
res <- data.frame(protein_id = rownames(y), F = signif(tt$F, 9), P.Value = signif(tt$P.Value, 9),
                  adj.P.Val = signif(tt$adj.P.Val, 9))
con <- gzfile(file.path(out, "cells_interaction_F.tsv.gz"), "w")
write.table(res, con, sep = "\t", quote = FALSE, row.names = FALSE); close(con)
cat(sprintf("cells_interaction_F: %d proteins, %d at adj.P < 0.05\n", nrow(res), sum(res$adj.P.Val < 0.05)))
cat(sprintf("limma %s, R %s\n", packageVersion("limma"), paste(R.version$major, R.version$minor, sep = ".")))
