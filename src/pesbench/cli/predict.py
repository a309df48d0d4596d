"""``pesbench predict FILE... --model ID``: predict structures from files, no database."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from pymatgen.core import Structure
from rich.markup import escape
from rich.table import Table

from pesbench.cli.console import console
from pesbench.errors import PesbenchError
from pesbench.mlip import Predictions, load_model
from pesbench.schemas.prediction import PredictionDoc
from pesbench.structures.io import DEFAULT_MIN_DISTANCE, load_structures

__all__ = ["predict"]


def _read(files: list[Path], allow_close_atoms: bool) -> list[Structure]:
    """Read and check every file; any bad one refuses the batch, all problems on one line."""
    loaded = load_structures(files, min_distance=0.0 if allow_close_atoms else DEFAULT_MIN_DISTANCE)
    if loaded.errors:
        problems = "; ".join(problem.message for problem in loaded.errors)
        if any("overlapping atoms" in problem.message for problem in loaded.errors):
            problems += " (--allow-close-atoms predicts such cells anyway)"
        raise PesbenchError(problems)
    return [item.structure for item in loaded.structures]


def predict(
    files: list[Path] = typer.Argument(  # noqa: B008 - typer's idiom
        ..., exists=True, dir_okay=False, help="Structure files (CIF, POSCAR, pymatgen JSON)."
    ),
    model: str = typer.Option("chgnet-0.3.0", "--model", "-m", help="Model id (see `models`)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    device: str | None = typer.Option(None, help="cpu or cuda (default: the setting)."),
    atom_budget: int | None = typer.Option(None, help="Most atoms per forward pass."),
    allow_close_atoms: bool = typer.Option(
        False,
        "--allow-close-atoms",
        help=f"Predict cells with atoms closer than {DEFAULT_MIN_DISTANCE} Å (refused otherwise).",
    ),
) -> None:
    """Predict energy (eV, eV/atom), forces (eV/Å) and stress (GPa) of structures.

    Every file is read and checked first: an unreadable, empty or disordered file, or one
    with overlapping atoms, refuses the batch, every problem named on one line. A structure
    the model cannot take (an element it lacks) fails alone, with its reason on a line of
    its own; the others are predicted.
    """
    structures = _read(files, allow_close_atoms)
    predictor = load_model(model, device=device)
    preds = predictor.predict(structures, atom_budget=atom_budget)
    docs = preds.to_docs(structures)
    if as_json:
        _print_json(files, preds, docs)
    else:
        _print_table(files, model, preds, docs)
    if preds.n_failed == len(structures):
        raise typer.Exit(1)


def _print_json(files: list[Path], preds: Predictions, docs: list[PredictionDoc]) -> None:
    """The predictions as JSON: the model, the device and one row per file."""
    keys = {"structure_id", "n_atoms", "status", "failure_reason", "energy"}
    keys |= {"energy_per_atom", "forces", "stress"}
    rows = [
        {"file": str(path), **doc.model_dump(mode="json", include=keys)}
        for path, doc in zip(files, docs, strict=True)
    ]
    payload = {"model": preds.model.model_dump(mode="json"), "device": preds.device}
    typer.echo(json.dumps({**payload, "predictions": rows}, indent=2))


def _print_table(
    files: list[Path], model: str, preds: Predictions, docs: list[PredictionDoc]
) -> None:
    """The predictions as a table, then one line per failed structure with its reason."""
    table = Table(title=f"{model} on {preds.device} (checksum {preds.model.checksum})")
    table.add_column("file", overflow="fold")
    for column in ("atoms", "energy (eV)", "eV/atom", "max |F| (eV/Å)", "p (GPa)"):
        table.add_column(column)
    for path, doc in zip(files, docs, strict=True):
        if doc.status == "failed":
            table.add_row(str(path), str(doc.n_atoms), "failed (below)")
            continue
        fmax = max(abs(x) for row in doc.forces or [] for x in row)
        pressure = -sum((doc.stress or [[0.0] * 3] * 3)[i][i] for i in range(3)) / 3
        table.add_row(
            str(path),
            str(doc.n_atoms),
            f"{doc.energy:.4f}",
            f"{doc.energy_per_atom:.4f}",
            f"{fmax:.4f}",
            f"{pressure:.3f}",
        )
    console.print(table)
    for path, doc in zip(files, docs, strict=True):
        if doc.status == "failed":
            console.print(f"[red]failed[/] {escape(str(path))}: {escape(doc.failure_reason or '')}")
