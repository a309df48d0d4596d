"""``pesbench query``: comparison tables, filtered, printed or exported."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pesbench.cli.console import console
from pesbench.settings import get_settings
from pesbench.stores.builders import build_comparisons
from pesbench.stores.query import Level, QueryError, export_table, query_comparisons

__all__ = ["query"]

_SHOWN = {
    "material": [
        "formula", "category", "model_id", "functional", "n_structures", "energy_mae",
        "force_mae", "softening_scale", "cmae", "one_point_mae_before", "one_point_mae_after",
    ],
    "structure": [
        "structure_id", "category", "model_id", "functional", "energy_per_atom_error",
        "force_mae", "force_scale", "stress_mae",
    ],
    "properties": [
        "formula", "category", "model_id", "functional", "name", "label", "unit",
        "reference", "model", "error", "ratio",
    ],
}  # fmt: skip


def query(
    level: Annotated[
        str, typer.Option("--level", "-l", help="material (aggregates), structure, or properties.")
    ] = "material",
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
        typer.Option("--output", "-o", help="Write the table: .csv, .parquet or .json."),
    ] = None,
    build: Annotated[
        bool, typer.Option("--build", help="Bring the comparisons up to date first.")
    ] = False,
    cross: Annotated[bool, typer.Option("--cross", help="With --build: also cross pairs.")] = False,
) -> None:
    """Print (or export) the comparisons of models against DFT as a table."""
    settings = get_settings()
    if build:
        written = build_comparisons(settings, cross_functional=cross)
        console.print(
            f"comparisons updated: {written['structure']} structure-level, "
            f"{written['material']} material-level documents written"
        )
    if level not in _SHOWN:
        raise QueryError(f"unknown level {level!r}: material, structure or properties")
    lvl: Level = level  # type: ignore[assignment]
    frame = query_comparisons(
        settings,
        lvl,
        campaign=campaign,
        category=category,
        material=material,
        model=model,
        functional=functional,
        pairing=pairing,
    )
    if output is not None:
        export_table(frame, output)
        console.print(f"{len(frame)} rows -> {output}")
        return
    if frame.empty:
        console.print("no comparisons match (run `pesbench query --build` to build them)")
        return
    columns = [c for c in _SHOWN[level] if c in frame.columns]
    text = frame[columns].to_string(index=False, float_format=lambda v: f"{v:.4g}")
    console.print(text, markup=False)
    console.print(f"({len(frame)} rows; all columns with --output FILE.csv)")
