"""JSON datasets: MPtrj (CHGNet's layout) and MatPES-style lists of records.

MPtrj (``MPtrj_2022.9_full.json``): ``{material_id: {frame_id: record}}``, each record a
pymatgen ``structure`` dict with ``uncorrected_total_energy`` (eV, raw VASP: the energy
imported, as references are raw DFT energies), ``corrected_total_energy`` (MP2020-corrected;
not used), ``force`` (eV/Å), ``stress`` (kBar, VASP sign: pressure positive) and ``magmom``
(μB). The stress convention is CHGNet's: its MPtrj loader
``chgnet.data.dataset.StructureJsonData.__getitem__`` multiplies ``stress`` by -0.1
("Convert VASP stress") to get its GPa targets, and so does this reader
(:data:`~pesbench.importers.record.KBAR_VASP_TO_GPA`). MPtrj states no functional
(it mixes GGA and GGA+U runs): the user names it.

Records (MatPES-style; a JSON list, or JSON lines): each a dict with ``structure`` (pymatgen
dict), ``energy`` (total, eV), ``forces`` (eV/Å), optionally ``stress``, ``magmoms``,
``functional``, and ids ``matpes_id``/``frame_id``/``id``, ``mp_id``/``material_id``. The
unit of ``stress`` is not fixed by the layout: the user states it (``stress_unit``); a
record with a stress and no stated unit is an error, never a guess.

Files may be gzipped. The whole file is read into memory (datasets of a few GB need the
bulk import of issue 16 item 3).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
from monty.io import zopen
from pymatgen.core import Structure

from pesbench.importers.record import EV_PER_A3_TO_GPA, KBAR_VASP_TO_GPA, BadRecord, Frame

__all__ = ["STRESS_UNITS", "StressUnit", "load_json", "read_mptrj", "read_records", "sniff_json"]

StressUnit = Literal["gpa", "kbar-vasp", "ev/a3"]
"""``gpa``: GPa, tensile positive; ``kbar-vasp``: VASP's kBar, pressure positive;
``ev/a3``: ASE's eV/Å³, tensile positive."""
STRESS_UNITS: dict[str, float] = {
    "gpa": 1.0,
    "kbar-vasp": KBAR_VASP_TO_GPA,
    "ev/a3": EV_PER_A3_TO_GPA,
}
"""Factor taking a stress in each unit to GPa, tensile positive."""


def load_json(path: Path) -> Any:
    """The content of a JSON (or JSON lines) file, gzipped or not."""
    with zopen(path, "rt") as handle:
        text = handle.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def sniff_json(data: Any) -> str:
    """``"mptrj"`` for a dict of dicts of records, ``"records"`` for a list, else ``""``."""
    if isinstance(data, list):
        return "records"
    if isinstance(data, dict) and data:
        first = next(iter(data.values()))
        if isinstance(first, dict) and first:
            inner = next(iter(first.values()))
            if isinstance(inner, dict) and "structure" in inner:
                return "mptrj"
    return ""


def _structure(value: Any) -> Structure:
    if not isinstance(value, dict):
        raise ValueError("no 'structure' dict")
    return Structure.from_dict(value)


def read_mptrj(data: dict[str, dict[str, dict[str, Any]]]) -> Iterator[Frame | BadRecord]:
    """MPtrj frames in file order: materials, then each material's frames."""
    index = 0
    for material_id, frames in data.items():
        for frame_id, record in (frames or {}).items():
            try:
                stress = record.get("stress")
                yield Frame(
                    index=index,
                    structure=_structure(record.get("structure")),
                    energy=record["uncorrected_total_energy"],
                    forces=record.get("force"),
                    stress=None
                    if stress in (None, [])
                    else KBAR_VASP_TO_GPA * np.asarray(stress, dtype=float),
                    magmoms=record.get("magmom"),
                    frame_id=str(frame_id),
                    material_id=str(record.get("mp_id") or material_id),
                )
            except Exception as exc:
                yield BadRecord(index, f"{material_id}/{frame_id}: {type(exc).__name__}: {exc}")
            index += 1


def _first(record: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        if record.get(key) is not None:
            return str(record[key])
    return None


def read_records(
    data: list[dict[str, Any]], stress_unit: str | None = None
) -> Iterator[Frame | BadRecord]:
    """MatPES-style records in list order.

    Parameters
    ----------
    stress_unit
        One of :data:`STRESS_UNITS`; required when a record has a stress.
    """
    for index, record in enumerate(data):
        try:
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
            stress = record.get("stress")
            if stress is not None:
                if stress_unit is None:
                    raise ValueError(
                        "has a stress and no unit was given (--stress-unit gpa|kbar-vasp|ev/a3)"
                    )
                stress = STRESS_UNITS[stress_unit] * np.asarray(stress, dtype=float)
            yield Frame(
                index=index,
                structure=_structure(record.get("structure")),
                energy=record["energy"],
                forces=record.get("forces"),
                stress=stress,
                magmoms=record.get("magmoms"),
                functional=_first(record, "functional"),
                frame_id=_first(record, "frame_id", "matpes_id", "id"),
                material_id=_first(record, "material_id", "mp_id"),
                run_id=_first(record, "run_id"),
                category=_first(record, "category"),
            )
        except Exception as exc:
            yield BadRecord(index, f"{type(exc).__name__}: {exc}")
