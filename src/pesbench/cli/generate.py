"""``pesbench generate``: write one category's structures to a folder, to look at before DFT."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from ase.io import write as ase_write
from pymatgen.io.ase import AseAtomsAdaptor
from rich.table import Table

from pesbench.cli.console import console
from pesbench.errors import PesbenchError
from pesbench.schemas.structure import CATEGORIES, StructureDoc
from pesbench.structures.common import GeneratorParams
from pesbench.structures.io import DEFAULT_MIN_DISTANCE, LoadedStructure, load_structures
from pesbench.structures.registry import generate as run_generator
from pesbench.structures.registry import resolve_params

__all__ = ["generate", "parse_assignments", "write_structure"]

FORMATS = ("extxyz", "cif")


def parse_assignments(assignments: list[str]) -> dict[str, Any]:
    """``["max_index=1", "fractions=[0.25, 0.5]"]`` -> ``{"max_index": 1, ...}`` (YAML values)."""
    out: dict[str, Any] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise PesbenchError(f"--set expects key=value, got {item!r}")
        try:
            out[key.strip()] = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError:
            out[key.strip()] = value
    return out


def write_structure(doc: StructureDoc, folder: Path, fmt: str) -> Path:
    """Write ``doc.structure`` as ``<folder>/<structure_id>.<fmt>``; return the path."""
    path = folder / f"{doc.structure_id}.{fmt}"
    if fmt == "cif":
        doc.structure.to(filename=str(path), fmt="cif")
    else:
        atoms = AseAtomsAdaptor.get_atoms(doc.structure)
        atoms.info.update(
            structure_id=doc.structure_id,
            category=doc.category,
            role=doc.role,
            parent_id=doc.parent_id,
        )
        ase_write(path, atoms, format="extxyz")
    return path


def generate(
    files: Annotated[
        list[Path],
        typer.Argument(help="Bulk structures: CIF, POSCAR, pymatgen JSON or ASE-readable."),
    ],
    category: Annotated[
        str, typer.Option("--category", "-c", help=f"One of: {', '.join(CATEGORIES)}.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write into.")],
    assignments: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            "-s",
            help="Override a parameter, e.g. --set max_index=1 --set 'fractions=[0.25,0.5]'.",
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="extxyz or cif.")] = "extxyz",
    min_distance: Annotated[
        float, typer.Option(help="Atoms closer than this (Å) are an input error.")
    ] = DEFAULT_MIN_DISTANCE,
) -> None:
    """Generate a category's structures from bulk files and write them with their documents.

    Writes OUT/structures/<structure_id>.<format>, OUT/documents.json (one StructureDoc per
    structure) and OUT/summary.json (per input: parent id, counts, skipped with reasons,
    errors). A bad input file is reported and the others still go through; the exit code is
    then 1.
    """
    if fmt not in FORMATS:
        raise PesbenchError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    overrides = parse_assignments(assignments or [])
    params = resolve_params(category, overrides)  # unknown category or parameter: exit 2
    loaded = load_structures(files, min_distance=min_distance)
    folder = out / "structures"
    folder.mkdir(parents=True, exist_ok=True)
    summary: list[dict[str, Any]] = [{"source": e.path, "error": e.message} for e in loaded.errors]
    docs: dict[str, StructureDoc] = {}
    for item in loaded.structures:
        summary.append(_generate_one(item, category, params, folder, fmt, docs))
    (out / "documents.json").write_text(
        json.dumps([d.model_dump(mode="json") for d in docs.values()], indent=1)
    )
    (out / "summary.json").write_text(
        json.dumps(
            {
                "category": category,
                "parameters": params.model_dump(mode="json"),
                "inputs": summary,
            },
            indent=1,
        )
    )
    _print(summary, category, out)
    errors = [row for row in summary if "error" in row]
    if errors and not docs:
        raise PesbenchError(f"no structure generated; first problem: {errors[0]['error']}")
    if errors:
        raise typer.Exit(1)


def _generate_one(
    item: LoadedStructure,
    category: str,
    params: GeneratorParams,
    folder: Path,
    fmt: str,
    docs: dict[str, StructureDoc],
) -> dict[str, Any]:
    """Generate from one bulk, write each new structure into ``folder`` and ``docs``.

    Returns the input's summary row: its counts and skipped structures, or its error.
    """
    try:
        result = run_generator(item.structure, category, params, source=item.path)
    except PesbenchError as exc:
        return {"source": item.path, "error": f"{item.path}: {exc}"}
    for doc in result.structures:
        if doc.structure_id not in docs:
            docs[doc.structure_id] = doc
            write_structure(doc, folder, fmt)
    return {
        "source": item.path,
        "parent_id": result.parent_id,
        "n_structures": len(result.structures),
        "roles": _count([d.role for d in result.structures]),
        "skipped": [s.model_dump() for s in result.skipped],
    }


def _count(roles: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for role in roles:
        counts[role] = counts.get(role, 0) + 1
    return counts


def _print(summary: list[dict[str, Any]], category: str, out: Path) -> None:
    table = Table(title=f"pesbench generate --category {category}")
    for column in ("input", "structures", "skipped", "problem"):
        table.add_column(column)
    for row in summary:
        if "error" in row:
            table.add_row(row["source"], "-", "-", f"[red]{row['error']}[/]")
        else:
            roles = ", ".join(f"{n} {r}" for r, n in row["roles"].items())
            table.add_row(
                row["source"], f"{row['n_structures']} ({roles})", str(len(row["skipped"])), ""
            )
    console.print(table)
    console.print(
        f"wrote {out / 'documents.json'}, {out / 'summary.json'} and {out / 'structures'}/"
    )
    for row in summary:
        for skip in row.get("skipped", []):
            console.print(f"  skipped {row['source']}: {skip['label']}: {skip['reason']}")
