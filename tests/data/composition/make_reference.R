# Reference cell-type proportion tests (speckle's propeller) on the real Tabula Muris Senis liver cells, for
# tests/unit/test_composition.py.
# Run from the repository root:  Rscript tests/data/composition/make_reference.R path/to/speckle/R
# R 4.2.2, limma 3.54.1; speckle 0.99.7 (github phipsonlab/speckle @3fe9cf4, GPL-3): not on Debian and it imports
# Seurat, so its four functions used here (getTransformedProps, propeller, propeller.ttest, propeller.anova) are
# sourced from the R/ folder of a checkout given as the argument; nothing else of the package is used.
# propeller_anova.tsv: a group of four levels (age group x sex), propeller.anova's F test.
# propeller_block.tsv: de.block (sex as a random block), limma's blocked fit of the transformed proportions.
# Input: tms_cells.tsv.gz, one row per cell of resources/data/tms_liver/tms_liver_sample_counts.h5ad (468 cells):
# its sample (the plate: the second '_'-separated field of the cell name, as config/datasets/tms_liver.yaml) and
# cell type, joined with config/samples/tms_liver.tsv (age_group, sex); the test checks it against the h5ad.
suppressMessages(library(limma))
args <- commandArgs(trailingOnly = TRUE)
for (f in c("getTransformedProps.R", "propeller.R", "propeller.ttest.R", "propeller.anova.R"))
  source(file.path(args[1], f))
here <- "tests/data/composition"
cells <- read.delim(file.path(here, "tms_cells.tsv.gz"), stringsAsFactors = FALSE, colClasses = "character")

save <- function(out, name) {
  out <- data.frame(cell_type = rownames(out), out, check.names = FALSE)
  write.table(out, file.path(here, name), sep = "\t", quote = FALSE, row.names = FALSE)
  cat(name, ":", nrow(out), "cell types\n")
}
# propeller as users call it: OLD vs YOUNG (2 levels: t-tests), logit (default) and arcsin square root
save(propeller(clusters = cells$cell_type, sample = cells$sample, group = cells$age_group), "propeller_logit.tsv")
save(propeller(clusters = cells$cell_type, sample = cells$sample, group = cells$age_group, transform = "asin"),
     "propeller_asin.tsv")
# robust = FALSE with trend = TRUE
save(propeller(clusters = cells$cell_type, sample = cells$sample, group = cells$age_group, robust = FALSE,
               trend = TRUE), "propeller_trend.tsv")

# with a covariate, as the speckle vignette does it: propeller.ttest on ~ 0 + age_group + sex
props <- getTransformedProps(cells$cell_type, cells$sample, transform = "logit")
samples <- unique(cells[c("sample", "age_group", "sex")])
samples <- samples[match(colnames(props$TransformedProps), samples$sample), ]
design <- model.matrix(~ 0 + age_group + sex, data = samples)
save(propeller.ttest(props, design, contrasts = c(1, -1, 0), robust = TRUE, trend = FALSE, sort = FALSE),
     "propeller_sex.tsv")

# two cell types only: propeller turns robust off
two <- cells$cell_type %in% c("endothelial cell of hepatic sinusoid", "hepatocyte")
save(propeller(clusters = cells$cell_type[two], sample = cells$sample[two], group = cells$age_group[two]),
     "propeller_two_types.tsv")

# four levels (age group x sex): propeller's ANOVA (moderated F of the group coefficients)
group4 <- paste(cells$age_group, cells$sex, sep = "_")
save(propeller(clusters = cells$cell_type, sample = cells$sample, group = group4), "propeller_anova.tsv")

# de.block: the samples of each sex treated as correlated (limma's random block effect), design ~ age_group with
# YOUNG the reference. propeller itself takes no block: this is limma's blocked fit of propeller's transformed
# proportions (duplicateCorrelation, lmFit(block, correlation), eBayes robust as propeller), with the consensus
# correlation written beside the statistics.
samples$age_group <- relevel(factor(samples$age_group), ref = "YOUNG")
design <- model.matrix(~ age_group, data = samples)
dc <- duplicateCorrelation(props$TransformedProps, design, block = samples$sex)
fit <- eBayes(lmFit(props$TransformedProps, design, block = samples$sex, correlation = dc$consensus.correlation),
              robust = TRUE)
out <- topTable(fit, coef = "age_groupOLD", number = Inf, sort.by = "none")
out$correlation <- dc$consensus.correlation
save(out, "propeller_block.tsv")
