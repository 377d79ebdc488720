"""README is the front door: short, and every document under docs/ is reachable from it by a working link."""
from __future__ import annotations

import re

from helpers import REPO

LINK = re.compile(r"\]\(([^)#\s]+)(#[^)\s]*)?\)")


def _links(path):
    return [m.group(1) for m in LINK.finditer(path.read_text()) if "://" not in m.group(1)]


def test_readme_is_short_and_names_the_two_commands():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) < 200
    assert "make run" in text and "make test" in text


def test_every_doc_is_linked_from_the_readme_and_every_link_resolves():
    docs = sorted((REPO / "docs").glob("*.md"))
    assert {"output.md", "validation.md", "benchmarks.md", "faq.md"} <= {d.name for d in docs}
    readme_links = {(REPO / link).resolve() for link in _links(REPO / "README.md")}
    assert {d.resolve() for d in docs} <= readme_links
    for page in [REPO / "README.md", *docs]:
        for link in _links(page):
            assert (page.parent / link).exists(), f"{page.name}: broken link {link}"


def test_every_config_key_is_described_and_config_readme_is_current():
    """config/README.md is generated from the schemas' descriptions (python -m lsecflow.config_docs)."""
    from lsecflow import config_docs

    assert config_docs.missing_descriptions() == [], "keys without a description in workflow/schemas"
    assert (REPO / "config/README.md").read_text() == config_docs.render(), \
        "config/README.md is stale: .venv/bin/python -m lsecflow.config_docs > config/README.md"
