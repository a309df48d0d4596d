"""``pesbench query``: comparison and relaxed-property tables, filtered, printed or exported."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from pesbench.analysis.property_errors import property_error_summary
from pesbench.cli.console import console
from pesbench.cli.db import check_database
from pesbench.settings import get_settings
from pesbench.stores.builders import build_comparisons
from pesbench.stores.query import (
    Level,
    QueryError,
    export_table,
    query_comparisons,
    query_properties,
)

__all__ = ["query"]

_SHOWN = {
    "material": [
        "formula", "category", "model_id", "functional", "n_structures", "energy_referencing",
        "energy_referenced_mae", "energy_mae_centered", "force_mae", "softening_scale", "cmae",
        "one_point_mae_before", "one_point_mae_after",
    ],
    "structure": [
        "structure_id", "category", "model_id", "functional", "energy_referenced_error",
        "force_mae", "force_scale", "stress_mae",
    ],
    "properties": [
        "material", "category", "name", "label", "unit", "model", "functional", "dft_value",
        "model_value", "error", "relative_error", "n",
    ],
}  # fmt: skip
_ENERGY_NOTE = {
    "material": "energy_referenced_mae: energies referenced to each side's own relaxed bulk "
    "(energy_referencing relaxed_bulk); energy_mae_centered: mean offset removed, the one to "
    "read where energy_referencing is mean_offset (eV/atom)",
    "structure": "energy_referenced_error: (E_model/N - E_model,bulk/atom) - (E_DFT/N - "
    "E_DFT,bulk/atom), each side's own relaxed bulk; empty where a side has none (eV/atom)",
}
_SUMMARY_SHOWN = [
    "category", "name", "model", "n", "mae", "mean_relative_error", "slope",
    "fraction_underpredicted",
]  # fmt: skip


def _show(frame: pd.DataFrame, level: str, output: Path | None) -> None:
    """Export the table to ``output``, or print it (with the summary of properties)."""
    if output is not None:
        export_table(frame, output)
        console.print(f"{len(frame)} rows -> {output}")
        return
    if frame.empty:
        console.print(
            "no relaxed properties match"
            if level == "properties"
            else "no comparisons match (run `pesbench query --build` to build them)"
        )
        return
    columns = [c for c in _SHOWN[level] if c in frame.columns]
    text = frame[columns].to_string(index=False, float_format=lambda v: f"{v:.4g}")
    console.print(text, markup=False)
    if level == "properties":
        summary = property_error_summary(frame)[_SUMMARY_SHOWN]
        console.print("\nper category, property and model:")
        text = summary.to_string(index=False, float_format=lambda v: f"{v:.4g}")
        console.print(text, markup=False)
    if level in _ENERGY_NOTE:
        console.print(_ENERGY_NOTE[level], markup=False)
    console.print(f"({len(frame)} rows; all columns with --output FILE.csv)")


def query(
    level: Annotated[
        str,
        typer.Option(
            "--level",
            "-l",
            help="material (aggregates), structure, or properties (same as --properties).",
        ),
    ] = "material",
    properties: Annotated[
        bool,
        typer.Option(
            "--properties",
            help="Relaxed properties: each model's value against DFT at its training "
            "functional (error, relative error, n), each side from its own relaxed geometries.",
        ),
    ] = False,
    campaign: Annotated[str | None, typer.Option(help="Only this campaign.")] = None,
    category: Annotated[
        str | None, typer.Option(help="Only this category (surface, defect, ...).")
    ] = None,
    material: Annotated[
        str | None, typer.Option(help="Parent bulk: structure_id or formula.")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Model id, e.g. chgnet-0.3.0.")] = None,
    functional: Annotated[
        str | None, typer.Option(help="Reference functional: PBE, r2SCAN, ...")
    ] = None,
    pairing: Annotated[str | None, typer.Option(help="native or cross.")] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", "--csv", help="Write the table: .csv, .parquet or .json."),
    ] = None,
    build: Annotated[
        bool, typer.Option("--build", help="Bring the comparisons up to date first.")
    ] = False,
    cross: Annotated[bool, typer.Option("--cross", help="With --build: also cross pairs.")] = False,
    fields: Annotated[
        str | None,
        typer.Option(
            "--columns",
            help="Comma-separated fields to read (with the grouping columns), e.g. "
            "force_mae,force_scale: much faster on millions of structure-level rows.",
        ),
    ] = None,
    cache: Annotated[
        bool,
        typer.Option(
            "--cache",
            help="Keep the table in the data directory and reuse it while the comparisons "
            "are unchanged (MongoDB's dbHash): repeated queries of millions of rows.",
        ),
    ] = False,
) -> None:
    """Print (or export) the comparisons of models against DFT, or the relaxed properties.

    Long because typer declares each of the command's twelve options in its signature.
    """
    settings = get_settings()
    level = "properties" if properties else level
    if level not in _SHOWN:
        raise QueryError(f"unknown level {level!r}: material, structure or properties")
    check_database()
    if build:
        written = build_comparisons(settings, cross_functional=cross)
        console.print(
            f"comparisons updated: {written['structure']} structure-level, "
            f"{written['material']} material-level documents written"
        )
    filters: dict[str, Any] = {"campaign": campaign, "category": category,
                               "material": material, "model": model,
                               "functional": functional}  # fmt: skip
    if level == "properties":
        if pairing not in (None, "native"):
            raise QueryError("relaxed properties are compared at the training functional only")
        frame = query_properties(settings, **filters)
    else:
        lvl: Level = level  # type: ignore[assignment]
        wanted = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
        frame = query_comparisons(
            settings, lvl, columns=wanted, cache=cache, pairing=pairing, **filters
        )
    _show(frame, level, output)
