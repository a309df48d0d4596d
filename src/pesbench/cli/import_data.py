"""``pesbench import PATH...``: your own DFT data -> the ``references`` collection.

Reads extxyz (and anything ASE reads), ASE databases, VASP runs (every ionic step),
MPtrj and MatPES-style JSON (:mod:`pesbench.importers`). ``pesbench import-vasp`` stays:
it stores the last step of each VASP run, keyed by the run's input settings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from pesbench.cli.console import console
from pesbench.cli.db import check_database
from pesbench.errors import PesbenchError
from pesbench.importers import (
    FORMATS,
    DatasetId,
    ImportOptions,
    ImportResult,
    RecordError,
    import_path,
)
from pesbench.importers.json_records import STRESS_UNITS
from pesbench.importers.record import functional_name
from pesbench.settings import PesbenchSettings, get_settings

__all__ = ["import_data"]

_err = Console(stderr=True, highlight=False, soft_wrap=True)
_SHOWN_BAD = 20
"""Bad records listed per path (the rest are counted)."""


def import_data(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Files, or folders of VASP runs (searched recursively)."),
    ],
    dataset: Annotated[
        str, typer.Option(help="Dataset name: part of every reference's key and provenance.")
    ],
    version: Annotated[str, typer.Option(help="Dataset version.")] = "",
    functional: Annotated[
        str | None,
        typer.Option(
            help="Functional of the data (PBE, PBE+U, r2SCAN, SCAN, PBEsol, PBEsol+U); "
            "needed unless every record states its own (VASP runs do). For MPtrj, PBE (or "
            "PBE+U) means the Materials Project's GGA(+U) mixing: frames holding O or F and "
            "one of Co, Cr, Fe, Mn, Mo, Ni, V, W are stored as PBE+U, the others as PBE."
        ),
    ] = None,
    category: Annotated[
        str, typer.Option(help="Category the comparisons group the data under.")
    ] = "imported",
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Label added to every reference.")
    ] = None,
    format: Annotated[
        str | None, typer.Option("--format", help=f"One of {', '.join(FORMATS)}; default: guessed.")
    ] = None,
    stress_unit: Annotated[
        str | None,
        typer.Option(
            help=f"Unit of the stresses of 'records' JSON: {', '.join(STRESS_UNITS)} "
            "(gpa and ev/a3 tensile positive, kbar-vasp pressure positive)."
        ),
    ] = None,
    energy_key: Annotated[
        str | None,
        typer.Option(
            help="extxyz/ASE: the info key of the DFT energy (e.g. REF_energy); default: "
            "the calculator's energy, else REF_energy (a frame with both, different, is bad)."
        ),
    ] = None,
    forces_key: Annotated[
        str | None,
        typer.Option(
            help="extxyz/ASE: the per-atom array of the forces (e.g. REF_forces); default "
            "as for the energy."
        ),
    ] = None,
    stress_key: Annotated[
        str | None,
        typer.Option(
            help="extxyz/ASE: the info key of the stress, eV/Å³ tensile positive (e.g. "
            "REF_stress); default as for the energy."
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Records per bulk write and progress step.")
    ] = 500,
    processes: Annotated[
        int,
        typer.Option(
            min=1,
            help="Worker processes parsing an extended XYZ file (1: none). Each starts in "
            "2-3 s: for files of thousands of frames or more.",
        ),
    ] = 1,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Delete what earlier imports of these paths stored in this dataset (and "
            "version), then import them afresh: to redo an import with corrected options.",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print what each path did as JSON.")
    ] = False,
) -> None:
    """Import labelled structures (energy, forces, stress) as DFT references.

    Duplicates (same structure and functional in the same dataset) are stored once; a bad
    record is reported with its index and skipped. An interrupted import resumes where it
    stopped when run again with the same arguments; a path already imported is skipped.
    A path imported into the dataset with other options (functional, stress unit,
    category, tags, format, keys) is refused: --replace redoes it with the new ones.

    Long because typer declares each of the command's thirteen options in its signature.
    """
    if functional is not None:
        try:
            functional = functional_name(functional)
        except RecordError as exc:
            raise PesbenchError(f"--functional: {exc}") from None
    if format is not None and format not in FORMATS:
        raise PesbenchError(f"--format: {format!r} is not one of {', '.join(FORMATS)}")
    if stress_unit is not None and stress_unit not in STRESS_UNITS:
        raise PesbenchError(
            f"--stress-unit: {stress_unit!r} is not one of {', '.join(STRESS_UNITS)}"
        )
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise PesbenchError(f"not found: {', '.join(missing)}")
    options = ImportOptions(
        dataset=DatasetId(dataset, version),
        functional=functional,
        category=category,
        tags=list(tag or []),
        format=format,
        stress_unit=stress_unit,
        energy_key=energy_key,
        forces_key=forces_key,
        stress_key=stress_key,
        batch_size=batch_size,
        processes=processes,
    )
    check_database()
    settings = get_settings()
    results: list[ImportResult] = []
    for path in paths:
        result = _import_one(path, options, settings, replace)
        results.append(result)
        _report_bad(result)
    if as_json:
        payload = [vars(r) for r in results]
        console.print(json.dumps(payload, indent=1), markup=False, highlight=False)
        return
    _print_table(results, f"import into dataset {dataset!r}" + (f" {version}" if version else ""))
    if not any(r.stored or r.duplicates or r.already_done for r in results):
        raise PesbenchError("nothing was imported: every record was bad (see above)")


def _import_one(
    path: Path, options: ImportOptions, settings: PesbenchSettings, replace: bool
) -> ImportResult:
    """Import one path with a progress bar on stderr (records done so far)."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_err,
        transient=True,
    ) as bar:
        task = bar.add_task(path.name, total=None)

        def advance(done: int, bar: Progress = bar, task: TaskID = task) -> None:
            bar.update(task, completed=done)

        try:
            return import_path(path, options, settings, progress=advance, replace=replace)
        except RecordError as exc:
            raise PesbenchError(str(exc)) from None


def _print_table(results: list[ImportResult], title: str) -> None:
    """What each path did: records read, stored, failed, duplicates, bad; resumed or done."""
    table = Table(title=title)
    for column in ("path", "format", "records", "stored", "failed", "duplicates", "bad", "note"):
        table.add_column(column, overflow="fold")
    for r in results:
        note = "already imported" if r.already_done else ""
        note = note or (f"resumed at record {r.resumed_from}" if r.resumed_from else "")
        table.add_row(
            r.source,
            r.format,
            *map(str, (r.records, r.stored, r.failed, r.duplicates)),
            str(r.n_bad),
            note,
        )
    console.print(table)


def _report_bad(result: ImportResult) -> None:
    for item in result.bad[:_SHOWN_BAD]:
        _err.print(
            f"skipped {result.source} record {item['index']}: {item['reason']}", markup=False
        )
    if result.n_bad > _SHOWN_BAD:
        _err.print(f"... and {result.n_bad - _SHOWN_BAD} more bad records", markup=False)
