"""JSON datasets: MPtrj (CHGNet's layout) and MatPES-style lists of records.

MPtrj (``MPtrj_2022.9_full.json``): ``{material_id: {frame_id: record}}``, each record a
pymatgen ``structure`` dict with ``uncorrected_total_energy`` (eV, raw VASP: the energy
imported, as references are raw DFT energies), ``corrected_total_energy`` (MP2020-corrected;
not used), ``force`` (eV/Å), ``stress`` (kBar, VASP sign: pressure positive) and ``magmom``
(μB). The stress convention is CHGNet's: its MPtrj loader
``chgnet.data.dataset.StructureJsonData.__getitem__`` multiplies ``stress`` by -0.1
("Convert VASP stress") to get its GPa targets, and so does this reader
(:data:`~pesbench.importers.record.KBAR_VASP_TO_GPA`).

MPtrj states no functional, and it mixes GGA and GGA+U runs, as the Materials Project
computed them: +U (Dudarev, on Co, Cr, Fe, Mn, Mo, Ni, V, W) only in a structure whose most
electronegative element is O or F, that is one holding O or F, with the U values of that
anion's table (pymatgen's ``pymatgen/io/vasp/MPRelaxSet.yaml``, ``INCAR: LDAUU: {O: ...,
F: ...}``, which ``MPRelaxSet`` applies and ``MaterialsProject2020Compatibility`` checks).
So ``--functional PBE`` (or ``PBE+U``) for MPtrj means "MP's GGA(+U) mixing": a frame that
rule gives a U is stored as ``PBE+U``, any other as ``PBE``
(:func:`mp_functional`, the rule of :func:`pesbench.engines.gpaw.inputs.hubbard_u`). Any
other functional is taken for every frame as given (a file in MPtrj's layout holding other
data); none is an error, as for every format.

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

from pesbench.engines.gpaw.inputs import hubbard_u
from pesbench.importers.record import (
    EV_PER_A3_TO_GPA,
    KBAR_VASP_TO_GPA,
    BadRecord,
    Frame,
    RecordError,
    functional_name,
)

__all__ = [
    "MP_MIXING",
    "STRESS_UNITS",
    "StressUnit",
    "load_json",
    "mp_functional",
    "read_mptrj",
    "read_records",
    "sniff_json",
]

MP_MIXING = ("PBE", "PBE+U")
"""The functionals that, for MPtrj, mean the Materials Project's GGA(+U) mixing."""

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


def mp_functional(structure: Structure) -> str:
    """``PBE+U`` where the Materials Project applies a U to ``structure``, else ``PBE``."""
    return "PBE+U" if hubbard_u(structure, "PBE+U") else "PBE"


def read_mptrj(
    data: dict[str, dict[str, dict[str, Any]]], functional: str | None = None
) -> Iterator[Frame | BadRecord]:
    """MPtrj frames in file order: materials, then each material's frames.

    Parameters
    ----------
    functional
        The user's: one of :data:`MP_MIXING` gives each frame its own, PBE or PBE+U
        (:func:`mp_functional`); any other is every frame's; None leaves it unset.
    """
    try:
        name = None if functional is None else functional_name(functional)
    except RecordError:
        name = functional  # unknown: every frame will be bad, saying so
    index = 0
    for material_id, frames in data.items():
        for frame_id, record in (frames or {}).items():
            try:
                stress = record.get("stress")
                structure = _structure(record.get("structure"))
                yield Frame(
                    index=index,
                    structure=structure,
                    energy=record["uncorrected_total_energy"],
                    forces=record.get("force"),
                    stress=None
                    if stress in (None, [])
                    else KBAR_VASP_TO_GPA * np.asarray(stress, dtype=float),
                    magmoms=record.get("magmom"),
                    functional=mp_functional(structure) if name in MP_MIXING else name,
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
