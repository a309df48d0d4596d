"""``pesbench import-vasp DIR...``: existing VASP runs -> the ``references`` collection."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from pesbench.cli.console import console
from pesbench.cli.db import check_database
from pesbench.engines.vasp import NotAVaspRunError, UnsupportedRunError, find_run_dirs
from pesbench.engines.vasp import parse_run_dir as parse
from pesbench.errors import PesbenchError
from pesbench.schemas.reference import ReferenceDoc
from pesbench.settings import get_settings
from pesbench.stores.references import REFERENCES_COLLECTION, ReferenceStore

__all__ = ["import_vasp", "parse_folders"]

_err = Console(stderr=True, highlight=False, soft_wrap=True)


def parse_folders(
    dirs: list[Path], campaign: str | None = None
) -> tuple[list[ReferenceDoc], list[str]]:
    """Parse every run folder at or under ``dirs``; returns the documents and the skips.

    A folder that is no run, or computes a functional pesbench has no name for, is
    skipped with a one-line reason; failed runs (crashed, unconverged) are documents.
    """
    docs, skipped = [], []
    for root in dirs:
        if not root.is_dir():
            skipped.append(f"{root}: not a folder")
            continue
        runs = find_run_dirs(root)
        if not runs:
            skipped.append(f"{root}: no VASP run found (no vasprun.xml, OUTCAR or POSCAR)")
        for folder in runs:
            try:
                docs.append(parse(folder, campaign=campaign))
            except (NotAVaspRunError, UnsupportedRunError) as exc:
                skipped.append(f"{folder}: {exc}")
    return docs, skipped


def import_vasp(
    dirs: Annotated[
        list[Path], typer.Argument(help="Run folders, or folders searched for runs (recursively).")
    ],
    campaign: Annotated[
        str | None, typer.Option(help="Campaign name recorded in each document.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Parse only; store nothing.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the documents as a JSON list.")
    ] = False,
) -> None:
    """Parse existing VASP run folders into references and store them (deduplicated).

    Crashed and unconverged runs are stored as failed, with the reason; they are never
    used in comparisons. Folders that are no run are reported on stderr and skipped.
    """
    docs, skipped = parse_folders(dirs, campaign)
    for line in skipped:
        _err.print(f"skipped {line}", markup=False)
    stored = 0
    if not dry_run and docs:
        check_database()
        with ReferenceStore(get_settings()) as store:
            stored = store.upsert(docs)
    if as_json:
        payload = [doc.model_dump(mode="json") for doc in docs]
        console.print(json.dumps(payload, indent=1), markup=False, highlight=False)
        return
    table = Table(title="VASP runs", show_lines=False)
    for column in ("folder", "functional", "energy (eV)", "status"):
        table.add_column(column, overflow="fold")
    for doc in docs:
        status = doc.status if doc.status == "success" else f"failed: {doc.failure_reason}"
        energy = f"{doc.energy:.6f}" if doc.energy is not None else "-"
        table.add_row(doc.run_dir or "", doc.functional, energy, status)
    console.print(table)
    n_failed = sum(doc.status == "failed" for doc in docs)
    where = (
        "nothing stored (--dry-run)" if dry_run else f"{stored} stored in {REFERENCES_COLLECTION}"
    )
    console.print(f"{len(docs)} runs parsed ({n_failed} failed), {len(skipped)} skipped; {where}")
    if not docs:
        raise PesbenchError("no VASP run could be parsed from the folders given")
