"""The campaign report: one self-contained HTML file (figures embedded) plus CSV tables.

Reads the ``comparisons`` (brought up to date first, incrementally), and the forces of
the references and predictions they name; draws with :mod:`pesbench.analysis.plots`.
Corrected models (``corrections``: fine-tunes and softening-scale fits trained on the
campaign's references or predicted with in it) get a section of their own, with the
held-out errors before and after.
References whose code is not a DFT code (a uMLIP standing in for DFT) are flagged at the
top of the page and in every table (column ``reference_code``).
Energy errors are never of absolute totals (codes differ in their energy zero): of
energies referenced to each side's own relaxed parent bulk where both sides relaxed it,
else with the set's mean offset removed; the tables and the parity figure say which.
Properties are those computed by each side from its own relaxed geometries
(:mod:`pesbench.stores.report_properties`); a campaign with properties and no
comparisons gets a report of its properties.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pymatgen.core import Composition

from pesbench import __version__
from pesbench.analysis.plots import (
    cross_functional_figure,
    figure_png,
    one_point_figure,
    parity_figure,
    softening_distribution_figure,
)
from pesbench.analysis.referencing import (
    AtomRef,
    UnderdeterminedFitError,
    cross_functional_summary,
)
from pesbench.analysis.softening import softening_scale
from pesbench.errors import PesbenchError
from pesbench.schemas.correction import FineTuneDoc, ScaleFitDoc
from pesbench.settings import PesbenchSettings, get_settings
from pesbench.stores.builders import build_comparisons, collection_store
from pesbench.stores.connection import open_collection
from pesbench.stores.corrections import load_corrections
from pesbench.stores.query import query_comparisons
from pesbench.stores.references import in_campaign
from pesbench.stores.report_models import (
    REFERENCING_LABELS,
    conventions_note,
    energy_summary,
    r2scan_routes,
    softening_by_model,
)
from pesbench.stores.report_properties import html_image as _img
from pesbench.stores.report_properties import html_table as _table
from pesbench.stores.report_properties import load_relaxed_properties, properties_section

__all__ = ["DFT_CODES", "REFERENCING_LABELS", "ReportFiles", "energy_summary", "write_report"]

DFT_CODES = frozenset({"vasp", "gpaw"})
"""Codes whose references are DFT; anything else is flagged as a stand-in."""

_MAX_POINTS = 20000
"""Force components drawn per parity panel at most (a random subset beyond)."""

_SUMMARY = [
    "formula", "category", "model_id", "functional", "pairing", "reference_code",
    "n_structures", "E MAE (eV/atom)", "E referenced to", "force_mae", "softening_scale",
    "slope", "r2", "cmae", "one_point_scale", "one_point_mae_before", "one_point_mae_after",
]  # fmt: skip


_ENERGY_CAPTION = (
    '<p class="note">E MAE: the energy error per atom; E referenced to: how. '
    "<b>each side's own relaxed bulk</b>: energies referenced to each side's own relaxed "
    "parent bulk, (E<sub>model</sub>/N − E<sub>model,bulk</sub>/atom) − (E<sub>DFT</sub>/N "
    "− E<sub>DFT,bulk</sub>/atom), the bulk relaxed in cell and positions by the DFT side "
    "and by the model itself. <b>mean offset removed</b>: some structure lacks a side's "
    "relaxed bulk, and the error is the MAE after removing the set's mean offset "
    "(energy_mae_centered). Absolute totals are never compared: codes differ in their "
    "energy zero (energy_mae in material.csv is of totals).</p>"
)


@dataclass
class ReportFiles:
    """What :func:`write_report` wrote."""

    html: Path
    csv: list[Path] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cross_functional: str = ""
    partial: bool = False
    """Whether the campaign's last run had not finished when the report was written."""


def _fetch(collection: str, key: str, ids: list[str], settings: PesbenchSettings) -> dict:
    store = collection_store(collection, settings)
    store.connect()
    try:
        return {
            d[key]: d
            for d in store.query(
                {key: {"$in": ids}}, properties=[key, "structure_id", "forces", "n_atoms"]
            )
        }
    finally:
        store.close()


def _force_panels(structure: pd.DataFrame, settings: PesbenchSettings) -> tuple[list, dict]:
    panels, scales = [], {}
    rng = np.random.default_rng(0)
    for (model, functional, code), rows in structure.groupby(
        ["model_id", "functional", "reference_code"]
    ):
        refs = _fetch("references", "reference_id", list(rows["reference_id"]), settings)
        preds = _fetch("predictions", "prediction_id", list(rows["prediction_id"]), settings)
        ref_f, pred_f = [], []
        for rid, pid in zip(rows["reference_id"], rows["prediction_id"], strict=True):
            r, p = refs.get(rid, {}).get("forces"), preds.get(pid, {}).get("forces")
            if r is not None and p is not None:
                ref_f.append(np.asarray(r).ravel())
                pred_f.append(np.asarray(p).ravel())
        if not ref_f:
            continue
        x, y = np.concatenate(ref_f), np.concatenate(pred_f)
        title = f"{model} vs {functional} ({code})"
        try:
            scales[title] = softening_scale(x, y)
        except ValueError:
            scales[title] = float("nan")
        if x.size > _MAX_POINTS:
            keep = rng.choice(x.size, _MAX_POINTS, replace=False)
            x, y = x[keep], y[keep]
        panels.append((title, x, y))
    return panels, scales


def _cross_functional(campaign: str, settings: PesbenchSettings) -> tuple[Any, str]:
    """The GGA vs r2SCAN figure and a one-paragraph summary (or why there is none)."""
    store = collection_store("references", settings)
    store.connect()
    try:
        docs = list(
            store.query(
                {**in_campaign(campaign), "status": "success"},
                properties=["structure_id", "functional", "energy", "n_atoms", "code"],
            )
        )
    finally:
        store.close()
    by_sid: dict[str, dict[str, dict[str, Any]]] = {}
    for d in docs:
        kind = "r2SCAN" if d["functional"] == "r2SCAN" else "GGA"
        if d["functional"] in ("PBE", "PBE+U", "r2SCAN") and d.get("energy") is not None:
            by_sid.setdefault(d["structure_id"], {})[kind] = d
    pairs = {sid: v for sid, v in by_sid.items() if len(v) == 2}
    if len(pairs) < 3:
        return None, f"{len(pairs)} structures have both GGA and r2SCAN references: too few."
    comps, e_gga, e_r2 = [], [], []
    for sid, v in sorted(pairs.items()):
        reduced = Composition(sid.rsplit("-", 1)[0])
        comps.append(reduced * (v["GGA"]["n_atoms"] / reduced.num_atoms))
        e_gga.append(v["GGA"]["energy"])
        e_r2.append(v["r2SCAN"]["energy"])
    codes = sorted({v[k]["code"] for v in pairs.values() for k in v})
    try:
        s = cross_functional_summary(comps, e_gga, e_r2)
    except UnderdeterminedFitError as exc:
        return None, f"GGA vs r2SCAN: {exc}."
    n = np.array([c.num_atoms for c in comps])
    gga, r2 = np.array(e_gga) / n, np.array(e_r2) / n
    ref_gga = AtomRef(s.atomref_gga, 0.0, s.n_fit).referenced(comps, e_gga) / n
    ref_r2 = AtomRef(s.atomref_r2scan, 0.0, s.n_fit).referenced(comps, e_r2) / n
    fig = cross_functional_figure(gga, r2, ref_gga, ref_r2)
    text = (
        f"{len(pairs)} structures ({', '.join(codes)}). Per-atom shift r2SCAN - GGA: "
        f"{s.shift_mean:.3f} ± {s.shift_std:.3f} eV/atom. Pearson of total energies "
        f"{s.total.pearson:.3f}, of energies relative to elemental references "
        f"{s.referenced.pearson:.3f}. MAE of r2SCAN predicted from GGA: raw "
        f"{s.mae_raw:.3f}, constant shift {s.mae_constant_shift:.3f}, per-element "
        f"re-referencing {s.mae_rereferenced:.3f} eV/atom (in-sample). Shift table (eV/atom): "
        + ", ".join(f"{el} {v:+.3f}" for el, v in s.shift_table.items())
    )
    return fig, text


def _why_no_comparisons(campaign: str, settings: PesbenchSettings) -> str:
    """The error of a report with nothing to show, with what to do about it."""
    with open_collection("references", settings) as refs:
        functionals = sorted(
            refs.distinct("functional", {**in_campaign(campaign), "status": "success"})
        )
    with open_collection("predictions", settings) as preds:
        trained = sorted(
            preds.distinct("model.functional", {**in_campaign(campaign), "status": "success"})
        )
    if not functionals or not trained:
        return (
            f"no comparisons for campaign {campaign!r}: it has "
            f"{'no successful references' if not functionals else 'no successful predictions'}"
            " stored (see `pesbench status`)"
        )
    return (
        f"no comparisons for campaign {campaign!r}: its references are {', '.join(functionals)}"
        f" and its models were trained on {', '.join(trained)}; compare across functionals "
        "with `pesbench report --cross`"
    )


def _corrections(
    campaign: str, models: list[str], settings: PesbenchSettings
) -> tuple[pd.DataFrame, pd.DataFrame, list[tuple[str, str]]]:
    """Tables of the fine-tunes and scale fits of ``campaign`` or its ``models``.

    Also the fine-tunes' warnings, as (model id, note).
    """
    tuned, fits, warnings = [], [], []
    for doc in load_corrections(settings, campaign=campaign, model_ids=models):
        if isinstance(doc, FineTuneDoc):
            before, after = doc.before, doc.after
            warnings += [(doc.model_id, note) for note in doc.notes]
            tuned.append(
                {
                    "model_id": doc.model_id,
                    "base_model": doc.base_model,
                    "functional": doc.functional,
                    "atomref": doc.atomref_mode,
                    "freeze": doc.freeze,
                    "train": ", ".join(doc.split.get("train", [])),
                    "val": ", ".join(doc.split.get("val", [])),
                    "test": ", ".join(doc.split.get("test", [])),
                    "n_train": doc.n_structures.get("train", 0),
                    "n_test": doc.n_structures.get("test", 0),
                    "seed": doc.seed,
                    "learning_rate": doc.learning_rate,
                    "epoch_kept": f"{doc.selected_epoch}/{doc.epochs}",
                    "energy_mae_before": before.energy_mae_per_atom * 1000 if before else None,
                    "energy_mae_after": after.energy_mae_per_atom * 1000 if after else None,
                    "force_mae_before": before.force_mae if before else None,
                    "force_mae_after": after.force_mae if after else None,
                    "notes": "; ".join(doc.notes),
                }
            )
        elif isinstance(doc, ScaleFitDoc):
            fits.append(
                {
                    "model_id": doc.model_id,
                    "base_model": doc.base_model,
                    "functional": doc.functional,
                    "scale": doc.scale,
                    "materials": ", ".join(sorted(set(doc.materials))),
                    "n_structures": len(doc.structure_ids),
                    "force_mae_before": doc.force_mae_before,
                    "force_mae_after": doc.force_mae_after,
                }
            )
    return pd.DataFrame(tuned), pd.DataFrame(fits), warnings


_CSS = """
body{font-family:sans-serif;margin:2em;max-width:1200px;color:#222}
h1{font-size:1.5em} h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:1.6em}
table.t{border-collapse:collapse;font-size:12px} table.t td,table.t th{padding:2px 6px;
border-bottom:1px solid #eee;text-align:right} img{max-width:100%;margin:.5em 0}
.warn{background:#fff3cd;border:1px solid #e0c36a;padding:.6em 1em}
.note{color:#555;font-size:.9em}
"""


def _energy_panels(structure: pd.DataFrame) -> list[tuple[str, Any, Any]]:
    """Energy parity panels: referenced to the relaxed bulks, else mean offset removed."""
    panels = []
    for (m, f, c), rows in structure.groupby(["model_id", "functional", "reference_code"]):
        title = f"{m} vs {f} ({c})"
        errors = rows.get("energy_referenced_error")
        if errors is not None and errors.notna().all():
            ref, pred = rows["energy_referenced_reference"], rows["energy_referenced_model"]
            panels.append((f"{title}\n{REFERENCING_LABELS['relaxed_bulk']}", ref, pred))
            continue
        ref, pred = rows["energy_per_atom_reference"], rows["energy_per_atom_model"]
        offset = float((pred - ref).mean())
        panels.append((f"{title}\n{REFERENCING_LABELS['mean_offset']}", ref, pred - offset))
    return panels


def _partial_banner(campaign: str, settings: PesbenchSettings) -> list[str]:
    """A warning when the campaign's last run has not finished: these are results so far."""
    with open_collection("campaigns", settings) as campaigns:
        record = campaigns.find_one({"name": campaign}, {"runs": 1})
    runs = (record or {}).get("runs") or []
    if not runs or runs[-1].get("finished"):
        return []
    planned = runs[-1].get("planned_at")
    when = f" (planned {planned:%Y-%m-%d %H:%M} UTC)" if isinstance(planned, datetime) else ""
    return [
        f'<p class="warn"><b>Partial:</b> the campaign\'s last run{when} has not finished; '
        "this report shows the results stored so far (references and predictions land as "
        "their jobs finish). Write it again when the run is done, or `pesbench status "
        f"{html.escape(campaign)}` to see what is left.</p>"
    ]


def _comparison_parts(
    material: pd.DataFrame,
    structure: pd.DataFrame,
    result: ReportFiles,
    settings: PesbenchSettings,
) -> list[str]:
    """The sections of the comparisons: summary, parity, softening, one-point figures."""
    parts: list[str] = []
    stand_ins = sorted(set(material["reference_code"]) - DFT_CODES)
    if stand_ins:
        parts.append(
            f'<p class="warn"><b>Not DFT:</b> references from {", ".join(stand_ins)} stand in '
            "for DFT in the rows so marked (column reference_code). They measure the "
            "agreement between two potentials, not the error of either against DFT.</p>"
        )
    parts.append("<h2>Summary per material, category, model and functional</h2>")
    parts.append(_table(energy_summary(material), _SUMMARY))
    parts.append(_ENERGY_CAPTION)

    panels, scales = _force_panels(structure, settings)
    if panels:
        fig = parity_figure(panels, "force component", "eV/Å", scales)
        parts += ["<h2>Force parity</h2>", _img(figure_png(fig), "force parity")]
        result.figures.append("force parity")
    energy_panels = _energy_panels(structure)
    if energy_panels:
        fig = parity_figure(energy_panels, "energy per atom", "eV/atom")
        parts += ["<h2>Energy parity</h2>", _img(figure_png(fig), "energy parity")]
        parts.append(
            '<p class="note">Energies per atom, each panel as its title says: referenced to '
            "each side's own relaxed bulk (E/N − E<sub>bulk</sub>/atom of that side), or "
            "absolute with the model's mean offset removed.</p>"
        )
        result.figures.append("energy parity")
    parts += conventions_note(structure)
    if material["softening_scale"].notna().any():
        parts += softening_by_model(material)
        fig = softening_distribution_figure(material)
        parts += ["<h2>Softening scale per category</h2>", _img(figure_png(fig), "softening")]
        result.figures.append("softening distribution")
    if "one_point_mae_before" in material and material["one_point_mae_before"].notna().any():
        labelled = material.assign(
            label=material["formula"] + " " + material["category"] + "\n"
            + material["model_id"] + " vs " + material["functional"]
        )  # fmt: skip
        fig = one_point_figure(labelled)
        parts += ["<h2>One-point correction</h2>", _img(figure_png(fig), "one-point")]
        result.figures.append("one-point correction")
    return parts


def write_report(
    campaign: str,
    out_dir: Path | None = None,
    settings: PesbenchSettings | None = None,
    *,
    build: bool = True,
    cross_functional: bool = False,
) -> ReportFiles:
    """Write ``report.html`` and the CSV tables of ``campaign`` into ``out_dir``.

    Parameters
    ----------
    campaign
        Campaign name (the ``campaign`` of the references).
    out_dir
        Default: ``<data_dir>/reports/<campaign>``.
    settings
        Which database; default the process settings.
    build
        Bring the comparisons up to date first (incremental).
    cross_functional
        With ``build``: also compare each model with the functionals it was not trained on.

    Raises
    ------
    PesbenchError
        When the campaign has neither comparisons nor properties.
    """
    settings = settings or get_settings()
    out_dir = out_dir or settings.data_dir / "reports" / campaign
    if build:
        build_comparisons(settings, cross_functional=cross_functional)
    material = query_comparisons(settings, "material", campaign=campaign)
    relaxed = load_relaxed_properties(campaign, settings)
    if material.empty and relaxed.empty:
        raise PesbenchError(_why_no_comparisons(campaign, settings))
    structure = query_comparisons(settings, "structure", campaign=campaign)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = ReportFiles(html=out_dir / "report.html")
    for name, frame in (("material", material), ("structure", structure)):
        path = out_dir / f"{name}.csv"
        frame.to_csv(path, index=False)
        result.csv.append(path)

    parts = _partial_banner(campaign, settings)
    result.partial = bool(parts)
    parts += _comparison_parts(material, structure, result, settings) if len(material) else []
    property_parts, property_csv, drawn = properties_section(relaxed, out_dir)
    parts += property_parts
    result.csv.append(property_csv)
    result.figures += ["property parity"] if drawn else []
    parts.append("<h2>GGA vs r2SCAN</h2>")
    fig, text = _cross_functional(campaign, settings)
    result.cross_functional = text
    if fig is not None:
        parts.append(_img(figure_png(fig), "GGA vs r2SCAN"))
        result.figures.append("GGA vs r2SCAN")
    parts.append(f'<p class="note">{html.escape(text)}</p>')
    models = sorted(set(material.get("model_id", [])) | {p.model.side for p in relaxed.pairs})
    tuned, fits, warnings = _corrections(campaign, models, settings)
    parts += r2scan_routes(material, tuned)
    parts.append("<h2>Corrected models</h2>")
    for name, frame in (("finetunes", tuned), ("scale_fits", fits)):
        if not frame.empty:
            path = out_dir / f"{name}.csv"
            frame.to_csv(path, index=False)
            result.csv.append(path)
    if not tuned.empty:
        parts.append(
            '<p class="note">Fine-tuned CHGNet models: held-out (test materials) energy MAE '
            "in meV/atom and force MAE in eV/Å of the base model before and of the "
            "fine-tuned model after. Epoch kept: by validation energy MAE (0: the starting "
            "weights after the AtomRef refit).</p>"
        )
        shown = tuned.drop(columns=["functional", "n_test", "notes"]).rename(
            columns={
                "energy_mae_before": "E MAE before",
                "energy_mae_after": "E MAE after",
                "force_mae_before": "F MAE before",
                "force_mae_after": "F MAE after",
                "learning_rate": "lr",
            }
        )
        parts.append(_table(shown, list(shown.columns)))
        if warnings:
            parts.append('<ul class="note">')
            parts += [f"<li>{html.escape(m)}: {html.escape(n)}</li>" for m, n in warnings]
            parts.append("</ul>")
    if not fits.empty:
        parts.append(
            '<p class="note">One-parameter softening corrections: scale fitted on the '
            "listed structures; force MAE (eV/Å) on those structures before and after.</p>"
        )
        parts.append(_table(fits, list(fits.columns)))
    if tuned.empty and fits.empty:
        parts.append(
            '<p class="note">None: fine-tune on this campaign\'s references with '
            f"<code>pesbench finetune --campaign {html.escape(campaign)}</code>, or fit the "
            "softening scale with <code>pesbench fit-scale</code>.</p>"
        )
    notes = [n for n in material.get("notes", pd.Series(dtype=str)).dropna() if n]
    if notes:
        parts.append("<h2>Notes</h2><ul>")
        parts += [f"<li>{html.escape(n)}</li>" for n in sorted(set(notes))]
        parts.append("</ul>")
        result.notes = sorted(set(notes))
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>pesbench report: "
        f"{html.escape(campaign)}</title><style>{_CSS}</style></head><body>"
        f"<h1>pesbench report: {html.escape(campaign)}</h1><p class='note'>pesbench "
        f"{__version__}, {stamp}; numbers also in {', '.join(p.name for p in result.csv)}."
        "</p>" + "\n".join(parts) + "</body></html>"
    )
    result.html.write_text(page, encoding="utf-8")
    return result
