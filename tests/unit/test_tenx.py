"""lsecflow.tenx: a Cell Ranger matrix folder read as scanpy's read_10x_mtx reads Cell Ranger's own layouts (the
real Tabula Muris Senis cells), in any mix of gzipped and plain files, and each way a folder arrives broken named
with its file, at start-up where the files' sizes tell (before: scanpy's bare ValueError, EOFError or
FileNotFoundError at ingest)."""
from __future__ import annotations

import gzip
import re

import anndata as ad
import numpy as np
import pytest
import scipy.sparse as sp
from helpers import TMS_H5AD, write_10x_mtx
from lsecflow import cell_files
from lsecflow.errors import InputDataError
from lsecflow.tenx import read_10x_folder


@pytest.fixture(scope="module")
def cells() -> ad.AnnData:
    return ad.read_h5ad(TMS_H5AD)[:80].copy()


def _plain(folder, name):
    (folder / name.removesuffix(".gz")).write_bytes(gzip.open(folder / name).read())
    (folder / name).unlink()


def _cut_lines(folder, name, k=1):
    lines = gzip.open(folder / name, "rt").read().splitlines()
    with gzip.open(folder / name, "wt") as fh:
        fh.write("\n".join(lines[:-k]) + "\n")


@pytest.mark.parametrize("layout", ["v3", "v3 gunzipped", "v2", "mixed"])
def test_every_layout_reads_as_scanpy_reads_cell_rangers(tmp_path, cells, layout):
    """Cell Ranger's v3 folder, the same gunzipped by hand, v2 (genes.tsv, plain, two columns) and a mix: the
    matrix, barcodes and gene ids are scanpy's read_10x_mtx(var_names="gene_ids") of the v3 folder."""
    import scanpy as sc

    write_10x_mtx(cells, tmp_path / "ref")
    ref = sc.read_10x_mtx(tmp_path / "ref", var_names="gene_ids", gex_only=True)
    folder = tmp_path / "mtx"
    write_10x_mtx(cells, folder)
    if layout in ("v3 gunzipped", "v2"):
        for name in ("matrix.mtx.gz", "features.tsv.gz", "barcodes.tsv.gz"):
            _plain(folder, name)
    if layout == "v2":
        lines = [line.split("\t")[:2] for line in (folder / "features.tsv").read_text().splitlines()]
        (folder / "genes.tsv").write_text("".join("\t".join(x) + "\n" for x in lines))
        (folder / "features.tsv").unlink()
    if layout == "mixed":
        _plain(folder, "barcodes.tsv.gz")
    X, barcodes, genes = read_10x_folder(folder)
    assert barcodes == list(ref.obs_names) and genes == list(ref.var_names)
    assert (sp.csr_matrix(X) != sp.csr_matrix(ref.X)).nnz == 0
    got = cell_files.read_single_cell(str(folder), "10x_mtx")
    assert (got.X != sp.csr_matrix(cells.X).astype(np.int32)).nnz == 0


def _edit_matrix(folder, edit):
    lines = gzip.open(folder / "matrix.mtx.gz", "rt").read().splitlines()
    with gzip.open(folder / "matrix.mtx.gz", "wt") as fh:
        fh.write("\n".join(edit(lines)) + "\n")


def _half(lines):
    """The entry of cell 41, gene 22 (Calr), 1250, written 1250.5."""
    k = lines.index("22 41 1250")
    lines[k] = "22 41 1250.5"
    return lines


@pytest.mark.parametrize("bend, says, at_start_up", [
    (lambda f: _cut_lines(f, "features.tsv.gz"), "the matrix is 726 features x 80 cells (matrix.mtx.gz's header) but "
                                                 "features.tsv.gz has 725 lines and barcodes.tsv.gz 80", True),
    (lambda f: _cut_lines(f, "barcodes.tsv.gz"), "features.tsv.gz has 726 lines and barcodes.tsv.gz 79", True),
    (lambda f: (f / "matrix.mtx.gz").write_bytes((f / "matrix.mtx.gz").read_bytes()[:4000]),
     "matrix.mtx.gz: cannot be read as a Matrix Market file (EOFError", False),
    (lambda f: (f / "matrix.mtx.gz").unlink(), "no matrix.mtx.gz or matrix.mtx in this 10x folder (it holds: "
                                               "barcodes.tsv.gz, features.tsv.gz)", True),
    (lambda f: gzip.open(f / "barcodes.tsv.gz", "wt").close(), "barcodes.tsv.gz: the barcodes file is empty", True),
    # scipy reads an integer-declared entry 1250.5 as 1250 without a word (before: a count made up silently)
    (lambda f: _edit_matrix(f, _half), "gene 'Calr': value 1250.5 is not an integer though the banner declares "
                                       "integer values: raw counts are required (an edited or hand-written file?) "
                                       "(1 such value)", False),
    (lambda f: _edit_matrix(f, lambda lines: [lines[0].replace("integer", "pattern")] + lines[1:]),
     "the banner '%%MatrixMarket matrix coordinate pattern general' does not declare counts", True),
    (lambda f: _edit_matrix(f, lambda lines: [lines[0].replace("general", "symmetric")] + lines[1:]),
     "pattern, complex and symmetric matrices are not counts", True),
    (lambda f: _edit_matrix(f, lambda lines: ["hello"] + lines[1:]), "(ValueError: the first line is 'hello', not "
                                                                     "a %%MatrixMarket banner)", True),
])
def test_a_broken_folder_names_its_file(tmp_path, cells, bend, says, at_start_up):
    """Each broken folder is refused at ingest naming the file; the files' sizes against the matrix's header are
    checked at start-up too (the parse-time peek reads the header, not the entries), so only a matrix cut short
    inside its entries waits for ingest."""
    folder = tmp_path / "mtx"
    write_10x_mtx(cells, folder)
    bend(folder)
    with pytest.raises(InputDataError, match=re.escape(says)):
        cell_files.read_single_cell(str(folder), "10x_mtx")
    if at_start_up:
        with pytest.raises(InputDataError, match=re.escape(says)):
            cell_files.peek_single_cell_obs(str(folder), "10x_mtx")
    else:
        assert len(cell_files.peek_single_cell_obs(str(folder), "10x_mtx")) == 80


def test_a_real_declared_matrix_of_whole_numbers_reads_as_the_integer_one(tmp_path, cells):
    """STARsolo and R's writeMM may declare 'real' for whole counts: read the same; a decimal there is refused by
    the count checks like any non-integer value."""
    write_10x_mtx(cells, tmp_path / "ref")
    folder = tmp_path / "mtx"
    write_10x_mtx(cells, folder)
    _edit_matrix(folder, lambda lines: [lines[0].replace("integer", "real")] + lines[1:])
    assert (read_10x_folder(folder)[0] != read_10x_folder(tmp_path / "ref")[0]).nnz == 0
    _edit_matrix(folder, _half)
    with pytest.raises(InputDataError, match=re.escape("gene 'Calr': value 1250.5 is not an integer: this looks")):
        cell_files.read_single_cell(str(folder), "10x_mtx")


def test_only_gene_expression_features_are_kept(tmp_path, cells):
    """A feature-barcoding run lists antibody captures after the genes: they are left out (scanpy's gex_only)."""
    folder = tmp_path / "mtx"
    write_10x_mtx(cells, folder)
    lines = gzip.open(folder / "features.tsv.gz", "rt").read().splitlines()
    lines[-1] = lines[-1].rsplit("\t", 1)[0] + "\tAntibody Capture"
    with gzip.open(folder / "features.tsv.gz", "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    X, _, genes = read_10x_folder(folder)
    assert X.shape == (80, 725) and genes == list(cells.var_names[:-1])
