# R limma reference for lsecflow's Spectronaut reader (counts.format: spectronaut), on the real
# Spectronaut 20.4 protein-group pivot report beside this script (pg_pivot.tsv: einprot's example,
# MIT, header restored by restore_header.py). The table is read here on its own (read.delim,
# names as written), so the test checks the reader and the DE together.
# Run from the repository root:
#   Rscript tests/data/spectronaut/make_reference.R
# (R 4.2.2, limma 3.54.1: apt-get install r-base-core r-bioc-limma)
# Writes pg_pivot.limma.tsv: each run's '[n] <run>.PG.Quantity' (NaN or 0 -> NA), log2, >= 2
# values in each group (sample sheet: sheet.tsv, runs named without '.raw'), median centring,
# lmFit(~ 0 + condition), contrast Mix_B - Mix_A, eBayes(); one row per kept protein group.
suppressPackageStartupMessages(library(limma))

dir <- "tests/data/spectronaut"
pivot <- read.delim(file.path(dir, "pg_pivot.tsv"), check.names = FALSE)
sheet <- read.delim(file.path(dir, "sheet.tsv"))
quantity <- grep("\\.PG\\.Quantity$", colnames(pivot), value = TRUE)
runs <- sub("\\.raw$", "", sub("^\\[[0-9]+\\] (.*)\\.PG\\.Quantity$", "\\1", quantity))
stopifnot(setequal(runs, sheet$sample))
x <- as.matrix(pivot[, quantity[match(sheet$sample, runs)]])
rownames(x) <- pivot$PG.ProteinGroups
x[is.nan(x) | x == 0] <- NA
x <- log2(x)
group <- factor(sheet$condition)
valid <- sapply(levels(group), function(g) rowSums(!is.na(x[, group == g, drop = FALSE])))
x <- x[apply(valid >= 2, 1, all), ]
med <- apply(x, 2, median, na.rm = TRUE)
x <- sweep(x, 2, med, "-") + mean(med)

design <- model.matrix(~ 0 + group)
colnames(design) <- levels(group)
fit <- eBayes(contrasts.fit(lmFit(x, design), makeContrasts(Mix_B - Mix_A, levels = design)))
tt <- topTable(fit, coef = 1, number = Inf, sort.by = "none")
res <- data.frame(protein_ids = rownames(tt), logFC = tt$logFC, AveExpr = tt$AveExpr, t = tt$t,
                  P.Value = tt$P.Value, adj.P.Val = tt$adj.P.Val, check.names = FALSE)
write.table(format(res, digits = 15), file.path(dir, "pg_pivot.limma.tsv"), sep = "\t", quote = FALSE,
            row.names = FALSE)
cat(sprintf("%d protein groups kept of %d, %d at adj.P < 0.05 (limma %s)\n", nrow(res), nrow(pivot),
            sum(res$adj.P.Val < 0.05), packageVersion("limma")))
