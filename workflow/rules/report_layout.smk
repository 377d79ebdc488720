# The report's layout (which files it shows, per dataset and DE unit) and the provenance inputs;
# the targets themselves are in common.smk, the rules in report.smk.


def _unit_title(ds, unit):
    what = contrast_title(ds.contrasts[unit.rpartition("/")[2]])
    cell_type = unit.rpartition("/")[0]
    return f"{ds.cell_types[cell_type]}: {what}" if cell_type else what


def _fit_unit(unit, name):
    """The unit of a file one DE fit writes (``design``): beside the contrast, in its cell type's folder."""
    cell_type = unit.rpartition("/")[0]
    return f"{cell_type}/{name}" if cell_type else name


QC_CAPTIONS = {"single_cell": SC_QC_CAPTIONS, "proteomics": PROTEOMICS_QC_CAPTIONS}


def report_manifest():
    """Which files the report shows, per dataset and DE unit (the layout lives here, with the targets)."""

    def figs(prefix, kinds, title, caption_of=None):
        return [
            {
                "path": f"{prefix}{k}.png",
                "caption": CAPTIONS[(caption_of or {}).get(k, k)],
                "title": f"{title} · {k.replace('_', ' ')}",
                "subject": title,  # what a caption's {{ snakemake.wildcards.* }} names in lsecflow's report
            }
            for k in kinds
        ]

    manifest = {}
    for name, ds in DATASETS.items():
        single_cell = ds.assay == "single_cell"
        qc_kinds = FIGURE_KINDS[f"qc_{ds.assay}"]
        entry = {
            "assay": ds.assay,
            "species": ds.spec["species"],
            "description": ds.spec.get("description", ""),
            "qc": {
                "verdict": out("qc", "verdict.json", dataset=name),
                "table": out("qc", "clusters.tsv" if single_cell else "samples.tsv", dataset=name),
                "figures": figs(out("qc", dataset=name), qc_kinds, f"{name} QC", QC_CAPTIONS.get(ds.assay)),
            },
            "units": [],
        }
        paracrine = set(paracrine_units(name))
        fits_shown = set()
        if ds.assay == "proteomics":
            entry["qc"]["preprocessing"] = out("qc", "preprocessing.tsv", dataset=name)
        if single_cell:
            entry["qc"]["figures"] += figs(out("qc", dataset=name), FIGURE_KINDS["pseudobulk"], f"{name} QC")
        if composition_on(name):
            entry["composition"] = {
                "table": out("composition", "propeller.tsv", dataset=name),
                "cells": out("composition", "cells.tsv", dataset=name),
                "figures": figs(out("composition", dataset=name), FIGURE_KINDS["composition"], name),
            }
        if paracrine and single_cell:
            entry["receivers"] = {
                "table": out("receivers", "receivers.tsv", dataset=name),
                "figures": figs(out("dataset_figures", dataset=name), FIGURE_KINDS["receivers"], name),
            }
        for unit in de_units(name):
            title = _unit_title(ds, unit)
            u = {
                "unit": unit,
                "title": title,
                "anchor": re.sub(r"[^A-Za-z0-9_]+", "-", f"{name}-{unit}"),
                "de_table": out("de", DE_OUTPUT_SUFFIXES["table"], dataset=name, unit=unit),
                "de_summary": out("de", DE_OUTPUT_SUFFIXES["summary"], dataset=name, unit=unit),
                "figures": figs(out("unit_figures", dataset=name, unit=unit), FIGURE_KINDS["de"], title),
                "enrichment": [
                    {
                        "collection": c,
                        "gmt": collections(name)[c],
                        "size_limits": ds.spec["enrichment"]["size_limits"].get(
                            c, [ds.spec["enrichment"]["min_size"], ds.spec["enrichment"]["max_size"]]
                        ),
                        "gsea": out("enrichment", ".gsea.tsv", dataset=name, unit=unit, collection=c),
                        "ora": out("enrichment", ".ora.tsv", dataset=name, unit=unit, collection=c),
                        "figures": figs(
                            out("unit_figures", f"{c}.", dataset=name, unit=unit),
                            FIGURE_KINDS["enrichment"],
                            f"{title} · {c}",
                        ),
                    }
                    for c in collections(name)
                ],
            }
            fit = _fit_unit(unit, "design")
            if fit not in fits_shown:  # the fit's own files go with its first contrast
                fits_shown.add(fit)
                if de_engine(ds.spec) in DISPERSION_ENGINES:
                    u["figures"] += figs(
                        out("de", ".", dataset=name, unit=fit), FIGURE_KINDS["de_fit"], title, fit_captions(name)
                    )
                if ds.spec["de"]["test"] == "lrt":
                    u["design_test"] = {
                        "table": out("de", ".lrt.tsv", dataset=name, unit=fit),
                        "summary": out("de", ".lrt.summary.tsv", dataset=name, unit=fit),
                    }
            if ds.spec["de"].get("sample_weights"):  # voomWithQualityWeights: one file per fit
                u["sample_weights"] = out("de", ".sample_weights.tsv", dataset=name, unit=_fit_unit(unit, "design"))
            if ds.spec["de"].get("block"):  # limma's within-block correlation: one file per fit
                u["block"] = out("de", ".block.tsv", dataset=name, unit=_fit_unit(unit, "design"))
            if composition_on(name):  # the share of the unit's cell type in its contrast
                slug, _, contrast = unit.rpartition("/")
                u["share"] = {"contrast": contrast, "cell_type": ds.cell_types[slug]}
            if unit in paracrine:
                u["paracrine"] = {
                    "candidates": out("paracrine", ".candidates.tsv", dataset=name, unit=unit),
                    "pairs": out("paracrine", ".pairs.tsv", dataset=name, unit=unit),
                    "figures": figs(out("unit_figures", dataset=name, unit=unit), FIGURE_KINDS["paracrine"], title),
                }
            entry["units"].append(u)
        manifest[name] = entry
    return manifest


def _paths(obj):
    """Every file path in a report manifest (values of keys other than the labels)."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key in (
                "path",
                "verdict",
                "table",
                "de_table",
                "de_summary",
                "gsea",
                "ora",
                "candidates",
                "pairs",
                "preprocessing",
                "sample_weights",
                "block",
                "summary",
                "cells",
            ):
                yield value
            else:
                yield from _paths(value)
    elif isinstance(obj, list):
        for item in obj:
            yield from _paths(item)


def resolved_config():
    """The config as this run uses it: defaults filled, paths resolved (written to provenance/)."""
    return {
        "config": LSEC.config,
        "datasets": {
            n: {
                "spec": d.spec,
                "format": d.format,
                "annotation": d.annotation,
                "cell_types": d.cell_types,
            }
            for n, d in DATASETS.items()
        },
    }


def dataset_input_files(name, ds):
    """(dataset, role, path) of every file a dataset reads (what provenance checksums)."""
    from lsecflow.provenance import dataset_inputs

    return dataset_inputs(name, ds.spec, ds.annotation)

# Provenance (versions, resolved config, sha256 of every input) and the one
# self-contained HTML report. Both are cheap; on a cluster they are submitted
# like every other job (tests/test_slurm.py checks that every job was).
