# save(lfc, p, padj, name): one DE table of the DLPC genes (rownames(counts), from tests/data/dlpc_filtered.R)
# as <out>/<name>.tsv.gz -- gene_id, log2FoldChange, pvalue, padj at 9 significant digits -- and its call
# count printed. Sourced by tests/data/interaction/make_reference.R and tests/data/slope/make_reference.R.
save <- function(lfc, p, padj, name) {
  tab <- data.frame(gene_id = rownames(counts), log2FoldChange = signif(lfc, 9), pvalue = signif(p, 9),
                    padj = signif(padj, 9))
  con <- gzfile(file.path(out, paste0(name, ".tsv.gz")), "w")
  write.table(tab, con, sep = "\t", quote = FALSE, row.names = FALSE); close(con)
  cat(name, sum(padj < 0.05, na.rm = TRUE), "at padj < 0.05\n")
}
