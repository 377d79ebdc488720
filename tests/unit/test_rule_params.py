"""lsecflow.rule_params: each rule sees only the config keys it declares."""
from __future__ import annotations

import pytest
import yaml
from helpers import REPO
from lsecflow.config import load_config
from lsecflow.rule_params import RULE_SPEC_KEYS, UndeclaredKeyError, guard_params


def shipped_config():
    """The shipped config/config.yaml, loaded as the Snakefile loads it."""
    return load_config(yaml.safe_load((REPO / "config/config.yaml").read_text()), roots=[REPO])


def test_rule_params_hold_only_the_declared_keys():
    dlpc = shipped_config().datasets["dlpc_liver"]
    p = dlpc.params(rule="enrichment")
    assert set(p["spec"]) == {"assay", "species", "enrichment", "de"}
    assert p["spec"]["de"] == {"alpha": 0.05, "lfc_threshold": dlpc.spec["de"]["lfc_threshold"], "test": "wald"}
    assert p["spec"]["enrichment"] == dlpc.spec["enrichment"] and p["rule"] == "enrichment"
    ingest = dlpc.params(rule="ingest")["spec"]
    assert set(ingest["qc"]) == {"markers"} and "figures" not in ingest and "paracrine" not in ingest
    # plain dicts: Snakemake compares and stores them as parameters
    assert type(p["spec"]) is dict and type(p["spec"]["de"]) is dict


def test_scoped_spec_refuses_undeclared_keys_loudly():
    spec = guard_params(shipped_config().datasets["dlpc_liver"].params(rule="enrichment"))["spec"]
    assert spec["de"]["alpha"] == 0.05 and spec.get("enrichment")["method"] == "multilevel"
    for read in (lambda: spec["qc"], lambda: spec.get("figures"), lambda: "paracrine" in spec,
                 lambda: spec["de"]["min_count"], lambda: spec["de"].get("shrink", False)):
        with pytest.raises(UndeclaredKeyError, match=r"rule 'enrichment' reads dataset key '(qc|figures|paracrine|"
                                                     r"de\.min_count|de\.shrink)'"):
            read()
    assert not issubclass(UndeclaredKeyError, LookupError)  # an `except KeyError` cannot swallow it


def test_rule_spec_keys_exist_and_match_the_rules():
    from lsecflow.schema import load_schema

    cfg = shipped_config()
    schema = load_schema("dataset")["properties"]
    for rule, keys in RULE_SPEC_KEYS.items():
        for key in keys:
            section, _, sub = key.partition(".")
            holders = [d for d in cfg.datasets.values() if section in d.spec and (not sub or sub in d.spec[section])]
            optional = bool(sub) and sub in schema.get(section, {}).get("properties", {})  # a key without default
            assert holders or optional, f"RULE_SPEC_KEYS[{rule!r}] names {key!r}, which no dataset nor schema has"
    import re
    used = set()
    for smk in (REPO / "workflow/rules").glob("*.smk"):
        text = smk.read_text()
        for block in [b for b in re.split(r"(?m)^(?=\s*rule\b)", text) if b.lstrip().startswith("rule")]:
            # a rule made in a loop (one per dataset) is named by a function: dataset_rule_name() -> de_<dataset>
            named = re.match(r"\s*rule (\w+):", block) or re.search(r'name:\s+dataset_rule_name\("(\w+)"', block)
            name = named.group(1)
            for arg in re.findall(r'rule_params\("(\w+)"\)', block):
                assert arg == name, f"{smk.name}: rule {name} uses rule_params({arg!r})"
                used.add(arg)
    assert used == set(RULE_SPEC_KEYS)
