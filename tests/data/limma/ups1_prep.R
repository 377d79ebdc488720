# The UPS1 spike-in (resources/data/ups1_spikein) as lsecflow's limma references read it, sourced by
# make_reference.R and make_block_reference.R (run from the repository root): MaxQuant's reverse, contaminant and
# only-by-site rows removed, LFQ intensities with 0 as missing, log2, proteins with >= 2 values in each group.
# Defines tab (the table's kept rows), smp (the sample sheet), group and x (proteins x runs).
tab <- read.delim("resources/data/ups1_spikein/proteinGroups_trimmed.tsv.gz", check.names = FALSE,
                  stringsAsFactors = FALSE, na.strings = "", quote = "",
                  colClasses = c(`Protein IDs` = "character", id = "character"))
smp <- read.delim("config/samples/ups1_spikein.tsv", stringsAsFactors = FALSE)
flag <- function(v) !is.na(v) & v == "+"
tab <- tab[!(flag(tab$Reverse) | flag(tab$`Potential contaminant`) | flag(tab$`Only identified by site`)), ]
x <- as.matrix(tab[, paste("LFQ intensity", smp$sample)])
colnames(x) <- smp$sample
rownames(x) <- tab$`Protein IDs`
x[x == 0] <- NA
x <- log2(x)
group <- factor(smp$group, levels = c("fmol10", "fmol25"))
ok <- rep(TRUE, nrow(x))
for (g in levels(group)) ok <- ok & rowSums(!is.na(x[, group == g, drop = FALSE])) >= 2
x <- x[ok, , drop = FALSE]
