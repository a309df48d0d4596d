"""``pesbench predict FILE... --model ID``: predict structures from files, no database."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from pymatgen.core import Structure
from rich.table import Table

from pesbench.cli.console import console
from pesbench.errors import PesbenchError
from pesbench.mlip import load_model

__all__ = ["predict"]


def _read(path: Path) -> Structure:
    try:
        return Structure.from_file(path)
    except Exception as exc:
        raise PesbenchError(f"{path}: not a structure file pymatgen can read ({exc})") from None


def predict(
    files: list[Path] = typer.Argument(  # noqa: B008 - typer's idiom
        ..., exists=True, dir_okay=False, help="Structure files (CIF, POSCAR, pymatgen JSON)."
    ),
    model: str = typer.Option("chgnet-0.3.0", "--model", "-m", help="Model id (see `models`)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    device: str | None = typer.Option(None, help="cpu or cuda (default: the setting)."),
    atom_budget: int | None = typer.Option(None, help="Most atoms per forward pass."),
) -> None:
    """Predict energy (eV, eV/atom), forces (eV/Å) and stress (GPa) of structures."""
    structures = [_read(path) for path in files]
    predictor = load_model(model, device=device)
    preds = predictor.predict(structures, atom_budget=atom_budget)
    docs = preds.to_docs(structures)
    if as_json:
        keys = {"structure_id", "n_atoms", "status", "failure_reason", "energy"}
        keys |= {"energy_per_atom", "forces", "stress"}
        rows = [
            {"file": str(path), **doc.model_dump(mode="json", include=keys)}
            for path, doc in zip(files, docs, strict=True)
        ]
        payload = {"model": preds.model.model_dump(mode="json"), "device": preds.device}
        typer.echo(json.dumps({**payload, "predictions": rows}, indent=2))
    else:
        table = Table(title=f"{model} on {preds.device} (checksum {preds.model.checksum})")
        for column in ("file", "atoms", "energy (eV)", "eV/atom", "max |F| (eV/Å)", "p (GPa)"):
            table.add_column(column)
        for path, doc in zip(files, docs, strict=True):
            if doc.status == "failed":
                table.add_row(str(path), str(doc.n_atoms), f"failed: {doc.failure_reason}")
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
    if preds.n_failed == len(structures):
        raise typer.Exit(1)
