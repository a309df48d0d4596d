"""Phonon frequencies from force constants at the side's own relaxed geometry.

phonopy's displaced supercells are generated again from the side's relaxed bulk (same
displacement distance and supercell), and the side computes single points of every
displaced supercell and of the perfect one. The perfect supercell's residual forces (what
an fmax-converged bulk keeps) are subtracted from each displaced set before the force
constants are built, so they do not enter the force constants, and the force constants
are made translationally invariant (phonopy's ``symmetrize_force_constants``: the acoustic
modes at Γ are zero, not the square root of numerical noise). Frequencies are then taken
on every q-point of a Γ-centred :data:`PHONON_MESH` (no symmetry reduction: the same
q-points in the same order on every side), which is what
:func:`pesbench.analysis.phonons.frequency_comparison` compares mode by mode. Same method
as matcalc's ``PhononCalc`` and atomate2's phonon flows (relax, then displace).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pesbench.analysis.phonons import mesh_qpoints
from pesbench.analysis.properties import force_constants
from pesbench.properties.base import PropertyContext, register
from pesbench.schemas.relaxation import RelaxationDoc
from pesbench.schemas.structure import PhononDetails, StructureDoc
from pesbench.structures.phonon import rebuild_phonopy

__all__ = ["PHONON_MESH", "phonon_properties"]

PHONON_MESH = (8, 8, 8)
"""Γ-centred q-mesh of the frequencies (the default of ``analysis.category``)."""


def _details(doc: StructureDoc) -> PhononDetails:
    assert isinstance(doc.details, PhononDetails)
    return doc.details


def _single_points(
    ctx: PropertyContext, perfect: StructureDoc, displaced: list[StructureDoc]
) -> dict[str, RelaxationDoc] | None:
    """Single points of the perfect and every displaced supercell; None if one failed."""
    indices = [_details(doc).displacement_index for doc in displaced]
    docs = ctx.relax_many(  # one batched pass per atom budget on a model side
        [perfect.structure, *(doc.structure for doc in displaced)],
        ["phonon perfect supercell", *(f"phonon displacement {i}" for i in indices)],
        static=True,
    )
    roles = ["perfect_supercell", *(f"displaced_{i}" for i in indices)]
    terms: dict[str, RelaxationDoc | None] = dict(zip(roles, docs, strict=True))
    failed = [role for role, term in terms.items() if term is None]
    if failed:
        ctx.notes.append(
            f"phonon_frequencies: no force constants, {len(failed)} of {len(terms)} "
            f"single points failed ({', '.join(failed)})"
        )
        return None
    return {role: term for role, term in terms.items() if term is not None}


@register("phonon")
def phonon_properties(ctx: PropertyContext) -> None:
    """One ``phonon_frequencies`` (THz, label ``mesh 8x8x8``) over the whole q-mesh.

    ``values`` holds every frequency, q-points in :func:`~pesbench.analysis.phonons.
    mesh_qpoints` order and bands ascending within each q-point (imaginary modes as
    negative numbers); ``value`` is the largest.
    """
    generation = ctx.generation()
    for skipped in generation.skipped:
        ctx.notes.append(f"{skipped.label}: skipped, {skipped.reason}")
    perfect = next((d for d in generation.structures if d.role == "perfect_supercell"), None)
    displaced = sorted(
        (d for d in generation.structures if d.role == "displaced"),
        key=lambda d: _details(d).displacement_index or 0,
    )
    if perfect is None or not displaced:
        ctx.notes.append("phonon_frequencies: no perfect or no displaced supercells generated")
        return
    terms = _single_points(ctx, perfect, displaced)
    if terms is None:
        return
    details = _details(perfect)
    residual = np.asarray(terms["perfect_supercell"].forces, dtype=float)
    forces = [
        np.asarray(terms[f"displaced_{i}"].forces, dtype=float) for i in range(len(displaced))
    ]
    phonon = rebuild_phonopy(details)
    force_constants(phonon, forces, perfect_forces=residual)
    phonon.symmetrize_force_constants()  # translational invariance: acoustic modes at Γ = 0
    phonon.run_qpoints(mesh_qpoints(PHONON_MESH))
    freqs = np.asarray(phonon.get_qpoints_dict()["frequencies"])
    extra: dict[str, Any] = {
        "mesh": list(PHONON_MESH),
        "n_qpoints": int(freqs.shape[0]),
        "n_bands": int(freqs.shape[1]),
        "order": "Γ-centred mesh q-points in C order (analysis.phonons.mesh_qpoints), "
        "bands ascending within each q-point",
        "min_frequency_THz": float(freqs.min()),
        "gamma_frequencies_THz": [float(f) for f in freqs[0]],
        "n_displacements": len(displaced),
        "displacement_A": details.distance_A,
        "supercell_matrix": [list(row) for row in details.supercell_matrix],
        "supercell_atoms": len(perfect.structure),
        "residual_max_force_eV_per_A": float(np.linalg.norm(residual, axis=1).max()),
    }
    label = "mesh " + "x".join(str(m) for m in PHONON_MESH)
    values = [float(f) for f in freqs.ravel()]
    ctx.add("phonon_frequencies", label, max(values), "THz", terms, values=values, **extra)
