#!/usr/bin/env Rscript
# R limma references for lsecflow's blocking (de.block: duplicateCorrelation, then lmFit(block, correlation),
# a random effect for samples that share a block). Run from the repository root (R 4.2.2, limma 3.54.1,
# statmod 1.5.0, edgeR 3.40.2: apt-get install r-base-core r-bioc-limma r-bioc-edger r-cran-statmod):
#   Rscript tests/data/limma/make_block_reference.R
# Writes, beside this script:
#   ups1.block_replicate.tsv.gz   the UPS1 spike-in (resources/data/ups1_spikein; the reference preprocessing of
#                          make_reference.R: 0 -> NA, log2, >= 2 values in each group, median centring, missing
#                          values kept), design ~ group, block = the sheet's replicate column (real: runs 1, 2,
#                          3 of each group), duplicateCorrelation, lmFit(block, correlation) + eBayes(),
#                          coefficient groupfmol25; with each protein's atanh correlation
#   ups1.block_replicate_deqms.tsv.gz  DEqMS (spectraCounteBayes, loess, on 'Razor + unique peptides') of that
#                          blocked fit: sca.t, sca.p, BH, posterior variance
#   voom_block_litter.tsv.gz   DLPC counts (as tests/data/voom/make_reference.R: Sample724 renamed, >= 10 counts
#                          in >= 3 samples, sorted) with a SYNTHETIC litter effect planted: samples in id order
#                          are put in litters L1-L4 in turn, and gene i's counts (1-based, sorted order) in litter
#                          k are round(count * 2^(0.5 sin(1.7 i + 2.3 k))); ~ Group (base Chow); limma's recipe
#                          for voom with blocks: voom, duplicateCorrelation, voom(block, correlation),
#                          duplicateCorrelation again, lmFit(block, correlation) + eBayes(); Disease/Agonist vs Chow,
#                          the moderated F test of both Group coefficients (F, P.Value), each gene's atanh
#                          correlation of the second round
#   voomqw_block_litter.tsv.gz    the same counts and recipe with voomWithQualityWeights in place of voom (its
#                          arrayWeights ignores blocks, as R's): Disease/Agonist vs Chow, and
#   voomqw_block_litter_weights.tsv  its 20 sample weights
#   block_consensus.tsv           the consensus correlations (ups1; voom rounds 1 and 2; voomWithQualityWeights
#                          rounds 1 and 2)
# Values are written with 15 significant digits.
suppressMessages({library(limma); library(edgeR)})
out_dir <- "tests/data/limma"
num15 <- function(tab) {
  num <- vapply(tab, is.numeric, TRUE)
  tab[num] <- lapply(tab[num], function(v) as.character(signif(v, 15)))
  tab
}
save <- function(tab, file) {
  gz <- gzfile(file.path(out_dir, file), "w")
  write.table(num15(tab), gz, sep = "\t", quote = FALSE, row.names = FALSE, na = "NA")
  close(gz)
}

# UPS1, block = replicate
source("tests/data/limma/ups1_prep.R")
med <- apply(x, 2, median, na.rm = TRUE)
x <- sweep(x, 2, med, "-") + mean(med)
design <- model.matrix(~ group)
dc <- duplicateCorrelation(x, design, block = smp$replicate)
fit <- eBayes(lmFit(x, design, block = smp$replicate, correlation = dc$consensus.correlation))
tt <- topTable(fit, coef = "groupfmol25", number = Inf, sort.by = "none")
stopifnot(identical(rownames(tt), rownames(x)))
save(data.frame(protein_ids = rownames(tt), logFC = tt$logFC, AveExpr = tt$AveExpr, t = tt$t, P.Value = tt$P.Value,
                adj.P.Val = tt$adj.P.Val, s2_post = fit$s2.post, df_total = fit$df.total,
                atanh_cor = dc$atanh.correlations, check.names = FALSE), "ups1.block_replicate.tsv.gz")
cat(sprintf("ups1, block replicate: consensus %.6f, %d proteins, %d estimated, %d at adj.P < 0.05\n",
            dc$consensus.correlation, nrow(tt), sum(!is.na(dc$atanh.correlations)), sum(tt$adj.P.Val < 0.05)))
# DEqMS on the blocked fit (its prior follows MaxQuant's 'Razor + unique peptides'; DEqMS 1.25.0 from source,
# see make_reference.R)
suppressPackageStartupMessages(library(DEqMS))
fit$count <- setNames(tab$`Razor + unique peptides`, tab$`Protein IDs`)[rownames(fit$coefficients)]
d <- spectraCounteBayes(fit, fit.method = "loess", coef_col = 2)
save(data.frame(protein_ids = rownames(d$coefficients), sca_t = d$sca.t[, 1], sca_P = d$sca.p[, 1],
                sca_adj = p.adjust(d$sca.p[, 1], "BH"), post_var = d$sca.postvar, check.names = FALSE),
     "ups1.block_replicate_deqms.tsv.gz")
cat(sprintf("ups1, block replicate, DEqMS: d0 %g, %d at adj.P < 0.05\n", d$sca.dfprior,
            sum(p.adjust(d$sca.p[, 1], "BH") < 0.05)))

# DLPC voom, planted litters
counts <- read.delim(gzfile("resources/data/dlpc_liver/counts.tsv.gz"), row.names = 1, check.names = FALSE)
colnames(counts)[colnames(counts) == "Sample724"] <- "Sample725"
sheet <- read.delim("config/samples/dlpc_liver.tsv", colClasses = "character")
sheet <- sheet[order(sheet$sample), ]
counts <- as.matrix(counts[, sheet$sample])
counts <- counts[rowSums(counts >= 10) >= 3, ]
counts <- counts[order(rownames(counts)), ]
litter <- paste0("L", (seq_len(ncol(counts)) - 1) %% 4 + 1)
k <- (seq_len(ncol(counts)) - 1) %% 4 + 1
planted <- round(counts * 2^(0.5 * sin(outer(1.7 * seq_len(nrow(counts)), 2.3 * k, "+"))))
sheet$Group <- relevel(factor(sheet$Group, levels = c("Chow", "Disease", "Disease/Agonist")), ref = "Chow")
design <- model.matrix(~ Group, sheet)
dge <- calcNormFactors(DGEList(planted))
t0 <- Sys.time()
v <- voom(dge, design)
dc1 <- duplicateCorrelation(v, design, block = litter)
v <- voom(dge, design, block = litter, correlation = dc1$consensus.correlation)
dc2 <- duplicateCorrelation(v, design, block = litter)
fit <- eBayes(lmFit(v, design, block = litter, correlation = dc2$consensus.correlation))
secs <- as.numeric(Sys.time() - t0, units = "secs")
tt <- topTable(fit, coef = "GroupDisease/Agonist", number = Inf, sort.by = "none")
ft <- topTable(fit, coef = c("GroupDisease", "GroupDisease/Agonist"), number = Inf, sort.by = "none")
save(data.frame(gene_id = rownames(tt), logFC = tt$logFC, AveExpr = tt$AveExpr, t = tt$t, P.Value = tt$P.Value,
                adj.P.Val = tt$adj.P.Val, B = tt$B, s2_post = fit$s2.post, df_total = fit$df.total,
                F = ft$F, F.P.Value = ft$P.Value, atanh_cor = dc2$atanh.correlations, check.names = FALSE),
     "voom_block_litter.tsv.gz")
vq <- voomWithQualityWeights(dge, design)
dq1 <- duplicateCorrelation(vq, design, block = litter)
vq <- voomWithQualityWeights(dge, design, block = litter, correlation = dq1$consensus.correlation)
dq2 <- duplicateCorrelation(vq, design, block = litter)
fq <- eBayes(lmFit(vq, design, block = litter, correlation = dq2$consensus.correlation))
tq <- topTable(fq, coef = "GroupDisease/Agonist", number = Inf, sort.by = "none")
save(data.frame(gene_id = rownames(tq), logFC = tq$logFC, AveExpr = tq$AveExpr, t = tq$t, P.Value = tq$P.Value,
                adj.P.Val = tq$adj.P.Val, B = tq$B, s2_post = fq$s2.post, check.names = FALSE),
     "voomqw_block_litter.tsv.gz")
write.table(num15(data.frame(sample = colnames(planted), weight = vq$targets$sample.weights)),
            file.path(out_dir, "voomqw_block_litter_weights.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)
cat(sprintf("voomWithQualityWeights litters: consensus %.6f then %.6f, %d at adj.P < 0.05\n",
            dq1$consensus.correlation, dq2$consensus.correlation, sum(tq$adj.P.Val < 0.05)))
write.table(num15(data.frame(fit = c("ups1_replicate", "voom_litter_round1", "voom_litter_round2",
                                     "voomqw_litter_round1", "voomqw_litter_round2"),
                             consensus = c(dc$consensus.correlation, dc1$consensus.correlation,
                                           dc2$consensus.correlation, dq1$consensus.correlation,
                                           dq2$consensus.correlation))),
            file.path(out_dir, "block_consensus.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)
cat(sprintf("voom litters: consensus %.6f then %.6f, %d genes, %d at adj.P < 0.05 (%.1f s for voom + dupCor x2 + fit)\n",
            dc1$consensus.correlation, dc2$consensus.correlation, nrow(tt), sum(tt$adj.P.Val < 0.05), secs))
cat(sprintf("limma %s, statmod %s, edgeR %s, R %s\n", packageVersion("limma"), packageVersion("statmod"),
            packageVersion("edgeR"), paste(R.version$major, R.version$minor, sep = ".")))
