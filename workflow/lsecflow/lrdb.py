"""Build the offline paracrine annotation (``resources/paracrine/``), and read it back.

The building is called by ``resources/paracrine/build.py`` and does not run in the workflow; the workflow
reads the built tables (:func:`load_factors`, :func:`load_pairs`, checked) and matches DE symbols to factors
(:func:`factor_symbols`). Inputs are the primary tables copied into
``resources/paracrine/sources/`` (see the README there) and the NABA sets of
``resources/genesets``. Two tables per species come out:

``<species>.pairs.tsv.gz``
    one row per ligand -> receptor pair (complexes as subunits joined by
    ``_``, sorted), the databases that list it and their number.
``<species>.factors.tsv.gz``
    one row per gene that is a ligand in any pair or secreted by any source:
    ``class`` (cytokine, chemokine, growth factor, protease/ECM regulator,
    adhesion/contact, other secreted), ``class_rule`` (why), ``secreted``,
    ``sources`` and ``n_sources`` (distinct databases supporting the gene as a
    ligand or secreted factor), ``secretion_evidence`` and ``receptors``
    (ordered by the number of databases listing the pair).

The class is decided by the first rule that matches, in the order of
``CLASSES``; every rule is written out below so that it can be argued with.
"""
from __future__ import annotations

import gzip
import re
from pathlib import Path

import pandas as pd

from .errors import InputDataError
from .files import compression, not_utf8
from .genesets import read_gmt
from .protein_tables import split_genes

CLASSES = ["chemokine", "cytokine", "growth factor", "protease/ECM regulator", "adhesion/contact", "other secreted"]

# CellChatDB pathway names (column 2 of the ligrec tables) per class
CHEMOKINE_PATHWAYS = {"CXCL", "CCL", "CX3C", "XCR"}
CYTOKINE_PATHWAYS = {
    "IL1", "IL2", "IL4", "IL6", "IL10", "IL12", "IL16", "IL17", "TNF", "LT", "IFN-I", "IFN-II", "IFN-lII", "CSF",
    "CSF3", "LIFR", "OSM", "TWEAK", "LIGHT", "BAFF", "APRIL", "CD40", "RANKL", "FASLG", "TRAIL", "EDA", "VEGI",
    "CD30", "CD70", "CD137", "OX40", "GITRL", "MIF", "EPO", "THPO", "FLT3", "VISFATIN", "RESISTIN", "CHEMERIN",
}
GROWTH_FACTOR_PATHWAYS = {
    "VEGF", "FGF", "PDGF", "EGF", "EPGN", "TGFb", "BMP", "BMP10", "GDF", "ACTIVIN", "NODAL", "AMH", "MSTN", "HGF",
    "IGF", "NGF", "NT", "ANGPT", "ANGPTL", "NRG", "GDNF", "PTN", "MK", "KIT", "GAS", "PROS",
}
CONTACT_ANNOTATIONS = {"Cell-Cell Contact", "ECM-Receptor"}

CHEMOKINE_SYMBOL = re.compile(r"^(CXCL|CCL|CX3CL|XCL)\d", re.I)
CYTOKINE_SYMBOL = re.compile(r"^(IL\d|IFN[ABGLKEW]|TNF$|TNFSF|LTA$|LTB$|CSF\d|LIF$|OSM$|EBI3$|CLCF1$|CTF1$|CNTF$|"
                             r"TSLP$|CRLF\d$)", re.I)
GROWTH_FACTOR_SYMBOL = re.compile(r"^(VEGF|PGF$|FGF\d|PDGF[A-D]$|TGFB\d$|BMP\d|GDF\d|INHB|HGF$|IGF[12]$|NGF$|BDNF$|"
                                  r"NTF\d|ANGPT\d$|ANGPTL|EGF$|AREG$|EREG$|HBEGF$|BTC$|EPGN$|NRG\d$|KITL$|MDK$|PTN$|"
                                  r"GDNF$|ARTN$|NRTN$|PSPN$)", re.I)
PROTEASE_SYMBOL = re.compile(r"^(MMP\d|ADAMTS|TIMP\d$|SERPIN|CTS[A-Z]$|PLAU$|PLAT$|PLG$|LOX)", re.I)
PROTEASE_SETS = {"NABA_ECM_REGULATORS"}
SECRETED_SETS = {"NABA_SECRETED_FACTORS", "NABA_ECM_REGULATORS"}
LRI_DATABASES = ["CellChat", "CellPhoneDB", "CellTalkDB", "connectomeDB2020", "ICELLNET", "NicheNet",
                 "SingleCellSignalR"]


def complex_name(parts) -> str:
    """Canonical complex string: non-empty subunits, sorted, joined by ``_``."""
    subunits = sorted({str(p).strip() for p in parts if isinstance(p, str) and str(p).strip()})
    return "_".join(subunits)


def _read(path: Path, **kw) -> pd.DataFrame:
    sep = "," if ".csv" in path.name else "\t"
    return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, compression=compression(path), **kw)


def lri_pairs(path: Path) -> pd.DataFrame:
    """Pairs of a scDiffCom ``LRI_<species>_curated.tsv``: ligand, receptor, database."""
    t = _read(path)
    rows = []
    for r in t.itertuples(index=False):
        ligand = complex_name([r.LIGAND_1, r.LIGAND_2])
        receptor = complex_name([r.RECEPTOR_1, r.RECEPTOR_2, r.RECEPTOR_3])
        for db in str(r.DATABASE).split(";"):
            if db.strip():
                rows.append((ligand, receptor, db.strip()))
    return pd.DataFrame(rows, columns=["ligand", "receptor", "database"])


def cellchat_table(path: Path) -> pd.DataFrame:
    """CellChatDB ligrec table (commot export): ligand, receptor, pathway, annotation."""
    t = _read(path)
    t = t.iloc[:, 1:5].set_axis(["ligand", "receptor", "pathway", "annotation"], axis=1)
    t["ligand"] = [complex_name(x.split("_")) for x in t["ligand"]]
    t["receptor"] = [complex_name(x.split("_")) for x in t["receptor"]]
    return t


def liana_pairs(path: Path) -> pd.DataFrame:
    """liana's consensus resource snapshot: ligand, receptor (complexes joined by ``_``)."""
    t = _read(path)
    return pd.DataFrame({"ligand": [complex_name(x.split("_")) for x in t["ligand"]],
                         "receptor": [complex_name(x.split("_")) for x in t["receptor"]],
                         "database": "liana_consensus"})


def cellphonedb_proteins(protein_csv: Path, uniprot_map: Path, human_symbols: set[str]) -> pd.DataFrame:
    """Human symbols of CellPhoneDB v5 proteins: ``secreted`` and ``transmembrane`` flags, description.

    UniProt accessions are mapped to symbols with liana's OmniPath table; a
    protein missing there keeps its UniProt entry-name prefix (``IL6_HUMAN``
    -> ``IL6``) only when that is a known human symbol.
    """
    prot = _read(protein_csv)
    umap = _read(uniprot_map)
    umap = umap[umap["symbol"] == umap["symbol"].str.upper()]
    by_acc = umap.groupby("uniprot")["symbol"].apply(lambda s: sorted(set(s))).to_dict()
    rows = []
    for r in prot.itertuples(index=False):
        symbols = by_acc.get(r.uniprot)
        if not symbols:
            prefix = r.protein_name.split("_")[0]
            symbols = [prefix] if prefix in human_symbols else []
        for s in symbols:
            rows.append((s, r.secreted.upper() == "TRUE", r.transmembrane.upper() == "TRUE", r.secreted_desc.strip()))
    return pd.DataFrame(rows, columns=["gene", "secreted", "transmembrane", "desc"]).drop_duplicates("gene")


def human_to_mouse(orthologs: Path) -> dict[str, str]:
    """One-to-one human -> mouse symbols from the shipped BioMart export."""
    t = pd.read_csv(orthologs, dtype=str).dropna(subset=["Gene name", "Human gene name"])
    t = t[t["Human homology type"] == "ortholog_one2one"]
    t = t.drop_duplicates(["Human gene name", "Gene name"]).sort_values(["Human gene name", "Gene name"])
    return dict(zip(t["Human gene name"], t["Gene name"]))


def classify(gene: str, pathways: set[str], annotations: set[str], naba: set[str], cpdb_desc: str,
             secreted: bool, transmembrane: bool = False) -> tuple[str, str]:
    """Class of one factor and the rule that gave it (first match wins)."""
    if pathways & CHEMOKINE_PATHWAYS:
        return "chemokine", "CellChat pathway " + ",".join(sorted(pathways & CHEMOKINE_PATHWAYS))
    if CHEMOKINE_SYMBOL.match(gene):
        return "chemokine", "symbol family (CXCL/CCL/CX3CL/XCL)"
    if pathways & CYTOKINE_PATHWAYS:
        return "cytokine", "CellChat pathway " + ",".join(sorted(pathways & CYTOKINE_PATHWAYS))
    if CYTOKINE_SYMBOL.match(gene):
        return "cytokine", "symbol family (interleukin/interferon/TNF/CSF/IL-6 family)"
    if pathways & GROWTH_FACTOR_PATHWAYS:
        return "growth factor", "CellChat pathway " + ",".join(sorted(pathways & GROWTH_FACTOR_PATHWAYS))
    if GROWTH_FACTOR_SYMBOL.match(gene):
        return "growth factor", "symbol family (VEGF/FGF/PDGF/TGF-beta/BMP/EGF/IGF/...)"
    if naba & PROTEASE_SETS:
        return "protease/ECM regulator", "NABA_ECM_REGULATORS"
    if PROTEASE_SYMBOL.match(gene):
        return "protease/ECM regulator", "symbol family (MMP/ADAMTS/TIMP/SERPIN/cathepsin/plasminogen/LOX)"
    if "Cytokine" in cpdb_desc or "cytokine" in cpdb_desc:
        return "cytokine", f"CellPhoneDB secreted_desc {cpdb_desc!r}"
    if "Growthfactor" in cpdb_desc:
        return "growth factor", f"CellPhoneDB secreted_desc {cpdb_desc!r}"
    if annotations & CONTACT_ANNOTATIONS and "Secreted Signaling" not in annotations:
        return "adhesion/contact", "CellChat annotation " + ",".join(sorted(annotations & CONTACT_ANNOTATIONS))
    if secreted:
        return "other secreted", "secreted, no class rule matched"
    if transmembrane:
        return "adhesion/contact", "CellPhoneDB transmembrane ligand (acts by contact)"
    return "other secreted", "ligand; secretion not confirmed by CellChat, CellPhoneDB or NABA (see secreted)"


def build(sources: Path, genesets: Path, orthologs: Path, symbols: dict[str, Path]) -> dict[str, dict[str, pd.DataFrame]]:
    """Build the pairs and factors tables of both species.

    Parameters
    ----------
    sources
        ``resources/paracrine/sources``.
    genesets
        ``resources/genesets`` (NABA matrisome GMTs).
    orthologs
        The BioMart mouse -> human export in ``resources/annotation``.
    symbols
        species -> gene symbol table (``resources/annotation/<species>.gene_symbols.tsv.gz``).
    """
    human_symbols = set(pd.read_csv(symbols["human"], sep="\t", dtype=str)["symbol"])
    cpdb_h = cellphonedb_proteins(sources / "cellphonedb_v5_protein_input.csv.gz",
                                  sources / "liana_omnipath_uniprot_symbols.tsv.gz", human_symbols)
    h2m = human_to_mouse(orthologs)
    cpdb_m = cpdb_h.assign(gene=cpdb_h["gene"].map(h2m)).dropna(subset=["gene"]).drop_duplicates("gene")
    out = {}
    for species, liana_name, cpdb in (("human", "consensus", cpdb_h), ("mouse", "mouseconsensus", cpdb_m)):
        cc = cellchat_table(sources / f"CellChatDB.ligrec.{species}.csv.gz")
        pairs = pd.concat([
            lri_pairs(sources / f"LRI_{species}_curated.tsv.gz"),
            cc[["ligand", "receptor"]].assign(database="CellChat"),
            liana_pairs(sources / f"liana_{liana_name}.tsv.gz"),
        ], ignore_index=True)
        pairs = pairs[(pairs["ligand"] != "") & (pairs["receptor"] != "")]
        pairs = (pairs.drop_duplicates().groupby(["ligand", "receptor"])["database"]
                 .agg(lambda s: ";".join(sorted(set(s)))).rename("sources").reset_index())
        pairs["n_sources"] = pairs["sources"].str.count(";") + 1
        pairs = pairs.sort_values(["ligand", "n_sources", "receptor"], ascending=[True, False, True],
                                  ignore_index=True)

        naba = read_gmt(genesets / f"{species}_NABA_matrisome.v7.1.symbols.gmt.gz")
        naba_of: dict[str, set[str]] = {}
        for set_name, genes in naba.items():
            for g in genes:
                naba_of.setdefault(g, set()).add(set_name)

        ligand_dbs: dict[str, set[str]] = {}
        receptors: dict[str, list[tuple[int, str]]] = {}
        for r in pairs.itertuples(index=False):
            for g in r.ligand.split("_"):
                ligand_dbs.setdefault(g, set()).update(r.sources.split(";"))
                receptors.setdefault(g, []).append((r.n_sources, r.receptor))
        pathways: dict[str, set[str]] = {}
        annotations: dict[str, set[str]] = {}
        for r in cc.itertuples(index=False):
            for g in r.ligand.split("_"):
                pathways.setdefault(g, set()).add(r.pathway)
                annotations.setdefault(g, set()).add(r.annotation)
        membrane = set(cpdb.loc[cpdb["transmembrane"] & ~cpdb["secreted"], "gene"])
        cpdb = cpdb[cpdb["secreted"]]
        cpdb_desc = dict(zip(cpdb["gene"], cpdb["desc"]))
        genes = sorted(set(ligand_dbs) | set(cpdb_desc)
                       | {g for g, s in naba_of.items() if s & SECRETED_SETS})
        rows = []
        for g in genes:
            evidence = []
            if "Secreted Signaling" in annotations.get(g, set()):
                evidence.append("CellChat Secreted Signaling")
            if g in cpdb_desc:
                evidence.append("CellPhoneDB secreted" + (f" ({cpdb_desc[g]})" if cpdb_desc[g] else ""))
            evidence += sorted(naba_of.get(g, set()) & SECRETED_SETS)
            srcs = set(ligand_dbs.get(g, set()))
            if g in cpdb_desc:
                srcs.add("CellPhoneDB")
            if naba_of.get(g, set()) & SECRETED_SETS:
                srcs.add("NABA")
            cls, rule = classify(g, pathways.get(g, set()), annotations.get(g, set()), naba_of.get(g, set()),
                                 cpdb_desc.get(g, ""), bool(evidence), g in membrane)
            recs = [rec for _, rec in sorted(receptors.get(g, []), key=lambda t: (-t[0], t[1]))]
            rows.append({"gene": g, "class": cls, "class_rule": rule, "secreted": bool(evidence),
                         "ligand": g in ligand_dbs, "n_sources": len(srcs), "sources": ";".join(sorted(srcs)),
                         "secretion_evidence": "; ".join(evidence), "receptors": ";".join(dict.fromkeys(recs))})
        out[species] = {"pairs": pairs, "factors": pd.DataFrame(rows)}
    return out


def write_gz(table: pd.DataFrame, path: Path) -> None:
    """Write a gzipped TSV with a fixed gzip time stamp, so rebuilds are byte-identical."""
    with open(path, "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", mtime=0) as gz:
        gz.write(table.to_csv(sep="\t", index=False).encode())


# ---------------------------------------------------------------- reading the built tables
FACTOR_COLUMNS = ["gene", "class", "class_rule", "secreted", "ligand", "n_sources", "sources", "receptors"]
PAIR_COLUMNS = ["ligand", "receptor", "sources", "n_sources"]


def read_checked(path, columns: list[str], what: str, filled: tuple[str, ...] = ()) -> pd.DataFrame:
    """A side table (TSV, gzip ok; every value text, none read as NA) with ``columns`` and at least one row, no
    cell of the ``filled`` columns empty; an unreadable file, a missing column, no row or an empty cell is an error
    naming ``what``, the file (and the line)."""
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, compression=compression(path))
    except UnicodeDecodeError as exc:
        raise InputDataError(f"{what} {path}: {not_utf8(path) or exc}") from exc
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputDataError(f"{what} {path}: cannot be read as a TSV table ({exc})") from exc
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputDataError(f"{what} {path}: column(s) {', '.join(missing)} missing "
                             f"(columns: {', '.join(table.columns)})")
    if table.empty:
        raise InputDataError(f"{what} {path}: has a header but no rows")
    if filled:
        blank = (table[list(filled)].apply(lambda col: col.str.strip()) == "").any(axis=1).to_numpy()
        if blank.any():
            raise InputDataError(f"{what} {path}: line {int(blank.argmax()) + 2} has an empty {' or '.join(filled)} "
                                 f"({int(blank.sum())} such lines)")
    return table


def load_factors(path) -> pd.DataFrame:
    """Factor annotation indexed by gene symbol (see :mod:`lsecflow.lrdb`)."""
    t = read_checked(path, FACTOR_COLUMNS, "paracrine factors table")
    bad = sorted(set(t["class"]) - set(CLASSES))
    if bad:
        raise InputDataError(f"paracrine factors table {path}: column 'class': unknown class(es) "
                             f"{', '.join(map(repr, bad))} (allowed: {', '.join(CLASSES)})")
    n = pd.to_numeric(t["n_sources"], errors="coerce")
    if n.isna().any():
        raise InputDataError(f"paracrine factors table {path}: column 'n_sources' is not a number for gene "
                             f"{t.loc[n.isna(), 'gene'].iloc[0]!r}")
    t["n_sources"] = n.astype(int)
    for col in ("secreted", "ligand"):
        flag = t[col].str.strip().str.lower()
        odd = ~flag.isin(["true", "false"])
        if odd.any():
            raise InputDataError(f"paracrine factors table {path}: column {col!r}: {t.loc[odd, col].iloc[0]!r} for gene "
                                 f"{t.loc[odd, 'gene'].iloc[0]!r} is not True or False")
        t[col] = flag == "true"
    dup = t["gene"][t["gene"].duplicated()]
    if len(dup):
        raise InputDataError(f"paracrine factors table {path}: column 'gene': {dup.iloc[0]!r} appears twice")
    return t.set_index("gene", drop=False).rename_axis(None)


def load_pairs(path, min_sources: int = 1) -> pd.DataFrame:
    """Ligand -> receptor pairs listed by at least ``min_sources`` databases."""
    t = read_checked(path, PAIR_COLUMNS, "ligand-receptor pairs table", filled=("ligand", "receptor"))
    n = pd.to_numeric(t["n_sources"], errors="coerce")
    if n.isna().any():
        raise InputDataError(f"ligand-receptor pairs table {path}: column 'n_sources' is not a number for pair "
                             f"{t.loc[n.isna(), 'ligand'].iloc[0]} -> {t.loc[n.isna(), 'receptor'].iloc[0]}")
    t["n_sources"] = n.astype(int)
    twice = t.duplicated(["ligand", "receptor"], keep="first")
    if twice.any():  # each would be listed twice in the ligand -> receptor table
        first = int(twice.to_numpy().nonzero()[0][0])
        raise InputDataError(f"ligand-receptor pairs table {path}: the pair {t.at[first, 'ligand']} -> "
                             f"{t.at[first, 'receptor']} appears twice (line {first + 2} repeats an earlier line; "
                             f"{int(twice.sum())} repeats); merge their sources into one line")
    return t[t["n_sources"] >= min_sources].reset_index(drop=True)


def factor_symbols(symbols, factors) -> pd.Series:
    """Each DE symbol as the factor it names: itself, or for a protein group of several genes
    (``A;B``, proteomics) the first of its genes that is an annotated factor (matched on any)."""
    known = set(factors)

    def one(symbol: str) -> str:
        if symbol in known or ";" not in symbol:
            return symbol
        return next((g for g in split_genes(symbol) if g in known), symbol)

    symbols = pd.Series(symbols).astype(str)
    return symbols.map(one)
