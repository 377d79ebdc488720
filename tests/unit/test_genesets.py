"""lsecflow.genesets: GMT files read and checked (malformed lines, species mismatch), and the shipped
collections against their manifest."""
from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from helpers import REPO
from lsecflow import genesets
from lsecflow.errors import InputDataError


def write_gmt(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, match", [
    ("", "empty GMT"),
    ("SET_A\tdesc\n", "line 1: a GMT line needs"),
    ("SET_A\tdesc\tMmp9\nSET_A\tdesc\tTnf\n", "line 2: gene set 'SET_A' defined twice"),
    ("\tdesc\tMmp9\n", "line 1: empty gene set name"),
])
def test_malformed_gmt(tmp_path, text, match):
    with pytest.raises(InputDataError, match=match):
        genesets.read_gmt(write_gmt(tmp_path / "bad.gmt", text))


def test_a_folder_and_a_gzipped_gmt_under_a_plain_name(tmp_path):
    """A folder given as a GMT is named as such; a gzipped GMT named .gmt is read (compression from its bytes)."""
    with pytest.raises(InputDataError, match="is a folder, not a GMT file"):
        genesets.read_gmt(tmp_path)
    with gzip.open(tmp_path / "sets.gmt", "wt") as fh:
        fh.write("SET_A\tdesc\tMmp9\tTnf\n")
    assert genesets.read_gmt(tmp_path / "sets.gmt") == {"SET_A": ["Mmp9", "Tnf"]}


def test_species_mismatch_is_refused():
    human = genesets.read_gmt(REPO / "resources/genesets/human_h.all.v7.1.symbols.gmt.gz")
    with pytest.raises(InputDataError, match="look human.*dataset is mouse"):
        genesets.check_species(human, "mouse", "human_h.all")
    genesets.check_species(genesets.read_gmt(REPO / "resources/genesets/mouse_h.all.v7.1.symbols.gmt.gz"),
                           "mouse", "mouse_h.all")


def test_shipped_collections_match_manifest(tmp_path):
    folder = REPO / "resources/genesets"
    manifest = genesets.load_manifest(folder)
    assert set(manifest["collection"]) == {"hallmark", "reactome_pid_naba", "go_bp", "matrisome", "lsec_tnf_axis"}
    for row in manifest.itertuples():
        path = genesets.shipped_collection(folder, row.collection, row.species)
        assert len(genesets.read_gmt(path)) > 0
    # a modified file is caught
    (tmp_path / "manifest.tsv").write_text((folder / "manifest.tsv").read_text())
    for f in folder.glob("*.gmt.gz"):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    with gzip.open(tmp_path / "mouse_h.all.v7.1.symbols.gmt.gz", "at") as fh:
        fh.write("EXTRA\tx\tMmp9\n")
    with pytest.raises(InputDataError, match="sha256 differs"):
        genesets.shipped_collection(tmp_path, "hallmark", "mouse")
    curated = genesets.read_gmt(genesets.shipped_collection(folder, "lsec_tnf_axis", "mouse"))
    assert curated["LSEC_TNF_IGAP_AXIS_HOANG2022"] == ["Il23a", "Tnf", "Mmp9", "Icam1", "Cxcl1", "Cxcl2"]
