"""The properties of each out-of-distribution category, from a set of structures' results.

:func:`category_properties` reads what each :class:`~pesbench.schemas.structure.StructureDoc`
recorded (slab area and bulk reference, defect species and pristine cell, hop and image
index, phonopy dataset) and computes the category's property from the reference results
and from the model results, one :class:`~pesbench.analysis.properties.PropertyComparison`
per instance. What cannot be computed (a missing endpoint, a missing chemical potential)
is returned as a note, never silently dropped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pesbench.analysis.properties import (
    EV_PER_A2_TO_J_PER_M2,
    PropertyComparison,
    build_phonopy,
    compare_property,
    defect_formation_energy,
    migration_barrier,
    mixing_energy,
    phonon_frequencies,
    surface_energy,
)
from pesbench.schemas.structure import (
    DefectDetails,
    MigrationDetails,
    PhononDetails,
    SolidSolutionDetails,
    StructureDoc,
    SurfaceDetails,
)

__all__ = ["Result", "category_properties"]


@dataclass(frozen=True)
class Result:
    """Energy (eV, total) and forces ((n, 3) eV/Å, or None) of one structure."""

    energy: float
    forces: NDArray | None = None


Results = Mapping[str, Result]


def category_properties(
    docs: Sequence[StructureDoc],
    reference: Results,
    model: Results,
    *,
    mu_reference: Mapping[str, float] | None = None,
    mu_model: Mapping[str, float] | None = None,
    phonon_mesh: Sequence[int] = (8, 8, 8),
) -> tuple[list[PropertyComparison], list[str]]:
    """Property rows of a set of structures of one material and category.

    Parameters
    ----------
    docs
        The structures of the set (a category's generation, the references included).
    reference, model
        structure_id -> :class:`Result` from DFT and from the model.
    mu_reference, mu_model
        Element -> chemical potential (eV/atom) for defect formation energies; without
        them the defects get ``defect_energy_difference`` (E_defect - E_pristine) instead.
    phonon_mesh
        q-point mesh of the maximum phonon frequency.

    Returns
    -------
    rows, notes
        One comparison per property instance, and one line per instance left out.
    """
    by_id = {d.structure_id: d for d in docs}
    rows: list[PropertyComparison] = []
    notes: list[str] = []

    def pair(*ids: str) -> tuple[list[Result], list[Result]] | None:
        if all(i in reference and i in model for i in ids):
            return [reference[i] for i in ids], [model[i] for i in ids]
        return None

    hops: dict[int, list[StructureDoc]] = defaultdict(list)
    phonons: list[StructureDoc] = []
    orderings: list[StructureDoc] = []
    for doc in docs:
        d = doc.details
        if isinstance(d, SurfaceDetails) and doc.role == "slab":
            _add(_surface(doc, d, by_id.get(d.bulk_reference_id), pair), rows, notes)
        elif isinstance(d, DefectDetails) and d.defect_type != "pristine":
            _add(_defect(doc, d, pair, mu_reference, mu_model), rows, notes)
        elif isinstance(d, MigrationDetails):
            hops[d.hop_index].append(doc)
        elif isinstance(d, PhononDetails):
            phonons.append(doc)
        elif isinstance(d, SolidSolutionDetails):
            orderings.append(doc)

    rows += _migration(hops, pair, notes)
    rows += _mixing(orderings, pair, notes)
    if phonons:
        _add(_phonon(phonons, reference, model, phonon_mesh), rows, notes)
    return rows, notes


Pairer = Callable[..., "tuple[list[Result], list[Result]] | None"]


def _defect(
    doc: StructureDoc,
    d: DefectDetails,
    pair: Pairer,
    mu_reference: Mapping[str, float] | None,
    mu_model: Mapping[str, float] | None,
) -> PropertyComparison | str:
    """Formation energy (or the bare energy difference) of one defect, or a note."""
    added: dict[str, int] = defaultdict(int)
    if d.added_species:
        added[d.added_species] += 1
    if d.removed_species:
        added[d.removed_species] -= 1
    label = f"{d.defect_type} {d.removed_species or ''}{'->' if d.added_species else ''}"
    label = (label + (d.added_species or "")).strip()
    got = pair(doc.structure_id, d.pristine_id)
    if got is None:
        return f"defect {label}: defect or pristine result missing"
    (ref_d, ref_p), (mod_d, mod_p) = got
    elements = [el for el, n in added.items() if n]
    if mu_reference and mu_model and all(e in mu_reference and e in mu_model for e in elements):
        return compare_property(
            "defect_formation_energy",
            "eV",
            defect_formation_energy(ref_d.energy, ref_p.energy, added, mu_reference),
            defect_formation_energy(mod_d.energy, mod_p.energy, added, mu_model),
            label=label,
        )
    return compare_property(
        "defect_energy_difference",
        "eV",
        ref_d.energy - ref_p.energy,
        mod_d.energy - mod_p.energy,
        label=label + " (no chemical potentials)",
    )


def _add(
    row_or_note: PropertyComparison | str, rows: list[PropertyComparison], notes: list[str]
) -> None:
    """Append a computed row to ``rows``, or the note of why it could not be to ``notes``."""
    if isinstance(row_or_note, str):
        notes.append(row_or_note)
    else:
        rows.append(row_or_note)


def _surface(
    doc: StructureDoc, d: SurfaceDetails, bulk: StructureDoc | None, pair: Pairer
) -> PropertyComparison | str:
    """Surface energy of one slab against its bulk reference, or a note."""
    label = f"{d.miller_index} t{d.termination_index}"
    got = pair(doc.structure_id, d.bulk_reference_id)
    if bulk is None or got is None or not d.area_A2:
        return f"surface {label}: slab or bulk result or area missing"
    values = [
        surface_energy(r[0].energy, doc.nsites, r[1].energy, bulk.nsites, d.area_A2)
        * EV_PER_A2_TO_J_PER_M2
        for r in got
    ]
    return compare_property("surface_energy", "J/m²", values[0], values[1], label=label)


def _migration(
    hops: Mapping[int, list[StructureDoc]], pair: Pairer, notes: list[str]
) -> list[PropertyComparison]:
    """Barrier of each hop whose images (endpoints included) all have results."""
    rows: list[PropertyComparison] = []
    for hop, images in sorted(hops.items()):
        images.sort(key=lambda doc: _mig(doc).image_index)
        n_expected = _mig(images[0]).n_images + 2
        got = pair(*(doc.structure_id for doc in images))
        if got is None or len(images) != n_expected:
            notes.append(f"migration hop {hop}: {len(images)} of {n_expected} images with results")
            continue
        values = [migration_barrier([r.energy for r in side]) for side in got]
        rows.append(
            compare_property("migration_barrier", "eV", values[0], values[1], label=f"hop {hop}")
        )
    return rows


def _mixing(
    orderings: list[StructureDoc], pair: Pairer, notes: list[str]
) -> list[PropertyComparison]:
    """Mixing energy of each ordering between the end members present in the set."""
    if not orderings:
        return []
    details = {doc.structure_id: _ss(doc) for doc in orderings}
    ends = {details[d.structure_id].fraction: d for d in orderings}
    ends = {x: d for x, d in ends.items() if x in (0.0, 1.0)}
    if len(ends) < 2:
        notes.append("solid_solution: end members (fraction 0 and 1) missing")
        return []
    rows = []
    for doc in orderings:
        x = details[doc.structure_id].fraction
        if x in (0.0, 1.0):
            continue
        got = pair(doc.structure_id, ends[0.0].structure_id, ends[1.0].structure_id)
        label = f"x={x:.3f} #{details[doc.structure_id].ordering_index}"
        if got is None:
            notes.append(f"solid_solution {label}: results missing")
            continue
        sizes = (doc.nsites, ends[0.0].nsites, ends[1.0].nsites)
        values = [
            mixing_energy(
                side[0].energy / sizes[0], x, side[1].energy / sizes[1], side[2].energy / sizes[2]
            )
            for side in got
        ]
        rows.append(compare_property("mixing_energy", "eV/atom", values[0], values[1], label=label))
    return rows


def _mig(doc: StructureDoc) -> MigrationDetails:
    assert isinstance(doc.details, MigrationDetails)
    return doc.details


def _ss(doc: StructureDoc) -> SolidSolutionDetails:
    assert isinstance(doc.details, SolidSolutionDetails)
    return doc.details


def _ph(doc: StructureDoc) -> PhononDetails:
    assert isinstance(doc.details, PhononDetails)
    return doc.details


def _phonon(
    phonons: list[StructureDoc], reference: Results, model: Results, mesh: Sequence[int]
) -> PropertyComparison | str:
    """Maximum phonon frequency from reference and from model forces, or a note."""
    displaced = sorted(
        (d for d in phonons if _ph(d).displacement_index is not None),
        key=lambda d: _ph(d).displacement_index or 0,
    )
    if not displaced:
        return "phonon: no displaced supercells"
    first = _ph(displaced[0])
    n_disp = len(first.dataset.get("first_atoms", []))
    if len(displaced) != n_disp:
        return f"phonon: {len(displaced)} of {n_disp} displaced supercells"
    ids = [d.structure_id for d in displaced]
    sides: list[float] = []
    for results in (reference, model):
        if not all(i in results and results[i].forces is not None for i in ids):
            return "phonon: forces of a displaced supercell missing"
        perfect = results.get(first.perfect_supercell_id)
        phonon = build_phonopy(
            first.unitcell,
            first.supercell_matrix,
            first.dataset,
            first.primitive_matrix,
            first.symprec,
        )
        freqs = phonon_frequencies(
            phonon,
            [np.asarray(results[i].forces) for i in ids],
            perfect_forces=None if perfect is None else perfect.forces,
            mesh=mesh,
        )
        sides.append(float(np.max(freqs)))
    return compare_property("max_phonon_frequency", "THz", sides[0], sides[1], label="mesh max")
