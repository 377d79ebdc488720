"""config/README.md, generated from the schemas' descriptions: every key of a config, a dataset file, a
contrast, a sample sheet and the figures section, with its type, default and meaning.

    .venv/bin/python -m lsecflow.config_docs > config/README.md

``tests/project/test_docs.py`` fails when a key has no description or the file is not the current rendering.
"""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
#: (schema file, title, the key prefix in the user's files)
SECTIONS = [
    ("config.schema.yaml", "The config (`config/config.yaml`, or yours with `make run CONFIG=...`)", ""),
    ("dataset.schema.yaml", "A dataset (`config/datasets/<name>.yaml`, or inline under `datasets:`)", ""),
    ("contrasts.schema.yaml", "A contrast (under a dataset's `contrasts:`)", "contrasts"),
    ("figures.schema.yaml", "Figures (the `figures:` section of the config or of a dataset)", "figures"),
    ("samples.schema.yaml", "A sample sheet (one row per sample)", "sample sheet column"),
]


def keys(node: dict, path: str = ""):
    """(dotted key, schema node) of every property, depth first; a mapping of names is written ``<name>``."""
    if not isinstance(node, dict):
        return
    for key, sub in node.get("properties", {}).items():
        dotted = f"{path}.{key}" if path else key
        yield dotted, sub
        yield from keys(sub, dotted)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and extra.get("properties"):
        yield from keys(extra, f"{path}.<name>" if path else "<name>")


def missing_descriptions() -> list[str]:
    """``file: key`` of every property without a description."""
    out = []
    for name, _, _ in SECTIONS:
        schema = yaml.safe_load((SCHEMAS / name).read_text())
        out += [f"{name}: {k}" for k, node in keys(schema) if not node.get("description")]
    return out


def _type(node: dict) -> str:
    if "enum" in node:
        return " \\| ".join(f"`{_yaml(v)}`" for v in node["enum"])
    t = node.get("type", "")
    if isinstance(t, list):
        return " or ".join(t)
    if "oneOf" in node:
        return " or ".join(o.get("type", "") for o in node["oneOf"])
    return t


def _yaml(value) -> str:
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def _cell(text) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def render() -> str:
    out = ["# Every config key", "",
           "Generated from `workflow/schemas/*.schema.yaml` by `python -m lsecflow.config_docs` (do not edit by hand;",
           "`tests/project/test_docs.py` checks it is current). Examples with comments: `config/config.yaml` and",
           "`config/datasets/*.yaml`; every dataset key written out: [docs/dataset.md](../docs/dataset.md).", ""]
    for name, title, prefix in SECTIONS:
        schema = yaml.safe_load((SCHEMAS / name).read_text())
        out += [f"## {title}", "", _cell(schema.get("description", "")), "",
                "| key | type | default | meaning |", "|---|---|---|---|"]
        for key, node in keys(schema):
            shown = f"{prefix}.{key}" if prefix and prefix != "sample sheet column" else key
            default = f"`{_cell(_yaml(node['default']))}`" if "default" in node else ""
            out.append(f"| `{shown}` | {_type(node)} | {default} | {_cell(node.get('description', ''))} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(render())
