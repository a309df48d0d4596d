"""``pesbench property CATEGORY FILE... --model ID``: one side's properties, no database.

Relaxes each bulk with one model (or, with ``--dft``, the local DFT engine), rebuilds the
category from the relaxed bulk, relaxes every term and computes the category's
properties: what a matcalc user expects, and a way to check any stored number
independently. ``--json`` prints every term: each structure before and after relaxation
(pymatgen dicts), its energy, the constraints and thresholds, and the values with units.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pesbench.cli.console import console
from pesbench.cli.generate import parse_assignments
from pesbench.errors import PesbenchError
from pesbench.makers.properties import RelaxMaker
from pesbench.properties import CALCULATORS, Side, compute_properties
from pesbench.schemas.property import PropertySetDoc
from pesbench.schemas.relaxation import RelaxationDoc
from pesbench.structures.io import load_structures

__all__ = ["property_command"]


def _maker(
    model: str | None, dft: str | None, engine: str | None, fmax: float | None, steps: int | None
) -> RelaxMaker:
    if (model is None) == (dft is None):
        raise PesbenchError("give exactly one of --model ID and --dft FUNCTIONAL")
    if dft is not None:
        return RelaxMaker(functional=dft, engine=engine, fmax=fmax, max_steps=steps, store=False)  # type: ignore[arg-type]
    return RelaxMaker(model=model, fmax=fmax, max_steps=steps, store=False)


def property_command(
    category: Annotated[str, typer.Argument(help="surface, defect, solid_solution, ...")],
    files: Annotated[
        list[Path],
        typer.Argument(exists=True, dir_okay=False, help="Bulk structure files (CIF, POSCAR)."),
    ],
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model id (see `models`).")
    ] = None,
    dft: Annotated[
        str | None, typer.Option("--dft", help="Use the DFT engine at this functional instead.")
    ] = None,
    engine: Annotated[str | None, typer.Option(help="DFT engine (with --dft).")] = None,
    assignments: Annotated[
        list[str] | None,
        typer.Option("--set", help="Generator parameter, e.g. --set max_index=1."),
    ] = None,
    fmax: Annotated[float | None, typer.Option(help="Force threshold, eV/Å.")] = None,
    steps: Annotated[int | None, typer.Option(help="Most optimizer steps.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print every term as JSON.")] = False,
) -> None:
    """Relax bulks and compute one category's properties with one model (no database)."""
    if category not in CALCULATORS:
        raise PesbenchError(
            f"unknown category {category!r}; choose one of {', '.join(CALCULATORS)}"
        )
    maker = _maker(model, dft, engine, fmax, steps)
    loaded = load_structures(files)
    if loaded.errors:
        raise PesbenchError("; ".join(f"{e.path}: {e.message}" for e in loaded.errors))
    params = parse_assignments(assignments or [])
    side = maker.side()
    results: list[PropertySetDoc] = []
    for item in loaded.structures:
        what = f"{category} of {item.path} with {side.label}"
        with _progress(side, what, quiet=as_json):
            results.append(
                compute_properties(
                    category,
                    item.structure,
                    side,
                    parameters=params,
                    thresholds=maker.thresholds(),
                )
            )
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in results], indent=1))
    else:
        for result in results:
            _print(result)
    if not any(r.properties for r in results):
        raise typer.Exit(1)


@contextmanager
def _progress(side: Side, what: str, *, quiet: bool) -> Iterator[None]:
    """A status line counting the relaxations as they finish (none with ``quiet``)."""
    if quiet:
        yield
        return
    count = 0
    with console.status(f"{what}: relaxing the bulk") as status:

        def update(doc: RelaxationDoc) -> None:
            nonlocal count
            count += 1
            status.update(
                f"{what}: {count} relaxations done (last {doc.structure.formula}, "
                f"{doc.n_steps} steps, {doc.status})"
            )

        side.on_relaxed = update
        try:
            yield
        finally:
            side.on_relaxed = None


def _print(result: PropertySetDoc) -> None:
    bulk = result.relaxations[0]
    title = (
        f"{result.material} {result.category}, {result.side}: bulk relaxed in "
        f"{bulk.n_steps} steps, {result.wall_time_s or 0:.1f} s"
    )
    table = Table(title=title)
    for column in ("property", "label", "value", "unit"):
        table.add_column(column)
    for prop in result.properties:
        value = "n/a" if prop.value is None else f"{prop.value:.4f}"
        table.add_row(prop.name, prop.label, value, prop.unit)
    console.print(table)
    for note in result.notes:
        console.print(f"[yellow]not computed:[/yellow] {note}")
