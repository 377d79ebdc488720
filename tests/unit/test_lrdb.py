"""lsecflow.lrdb: the shipped paracrine factor and pair tables (rebuilt byte-identically from their
sources; the TNF axis's classes and receptors)."""
from __future__ import annotations

import filecmp
import subprocess
import sys

import pytest
from helpers import PARACRINE, REPO, TNF_AXIS_CLASSES
from lsecflow import lrdb


def test_rebuild_is_byte_identical(tmp_path):
    proc = subprocess.run([sys.executable, str(PARACRINE / "build.py"), str(tmp_path)], capture_output=True,
                          text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for species in ("mouse", "human"):
        for kind in ("factors", "pairs"):
            name = f"{species}.{kind}.tsv.gz"
            assert filecmp.cmp(tmp_path / name, PARACRINE / name, shallow=False), f"{name} differs from a rebuild"


@pytest.mark.parametrize("species", ["mouse", "human"])
def test_tnf_axis_classes_and_receptors(species):
    factors = lrdb.load_factors(PARACRINE / f"{species}.factors.tsv.gz")
    name = (lambda g: g) if species == "mouse" else str.upper
    for gene, cls in TNF_AXIS_CLASSES.items():
        assert factors.at[name(gene), "class"] == cls, (gene, factors.loc[name(gene)].to_dict())
    assert name("Tnfrsf1a") in factors.at[name("Tnf"), "receptors"].split(";")
    assert name("Cxcr2") in factors.at[name("Cxcl1"), "receptors"].split(";")
    assert factors.at[name("Tnf"), "secreted"] and factors.at[name("Tnf"), "n_sources"] >= 5
    # every class is used, and every row has at least one source
    assert set(factors["class"]) == set(lrdb.CLASSES)
    assert (factors["n_sources"] >= 1).all()
    assert (factors["sources"].str.len() > 0).all()
