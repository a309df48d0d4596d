"""Mixing energies of substitutional orderings against their relaxed end members.

Per formula unit of the host (its reduced formula, e.g. MgO for Ca_xMg_{1-x}O, Cu for
Au_xCu_{1-x})::

    E_mix(x) = [E(ordering) - (1 - x) N_fu e_host - x N_fu e_sub] / N_fu      (eV/f.u.)

with ``N_fu`` the formula units of the supercell, ``x`` the substituted fraction of the
sublattice, and ``e_host``, ``e_sub`` the energies per formula unit of the two end members
(:func:`pesbench.analysis.properties.mixing_energy`, linear in its energies, takes the
energies per formula unit here since substitution keeps the atoms per formula unit).
Negative: the ordering is stable against separating into the end members.

Every term is the side's own and relaxed in cell and positions, as in the softening paper:
the orderings and both end members are generated from the side's relaxed bulk, in the same
supercell (role ``end_member``: the supercell of the relaxed host, which relaxes in no
step, and the supercell with every sublattice site substituted), so on a DFT side the
three share the k-point density and cell shape and their k-point errors cancel.
"""

from __future__ import annotations

from pesbench.analysis.properties import mixing_energy
from pesbench.properties.base import PropertyContext, register
from pesbench.schemas.relaxation import RelaxationDoc
from pesbench.schemas.structure import SolidSolutionDetails, StructureDoc

__all__ = ["mixing_label", "solid_solution_properties"]


def mixing_label(details: SolidSolutionDetails) -> str:
    """``Au x=0.25 #0``: substituent, substituted fraction, index of the ordering."""
    return f"{details.substituent} x={details.fraction:g} #{details.ordering_index}"


def _details(doc: StructureDoc) -> SolidSolutionDetails:
    assert isinstance(doc.details, SolidSolutionDetails)
    return doc.details


def _end_members(
    ctx: PropertyContext, docs: list[StructureDoc]
) -> tuple[RelaxationDoc, RelaxationDoc] | None:
    """The relaxed host (x = 0) and fully substituted (x = 1) end members; None if either failed."""
    ends = {_details(d).fraction: d for d in docs if d.role == "end_member"}
    relaxed: dict[float, RelaxationDoc | None] = {}
    for x, name in ((0.0, "host"), (1.0, "substituted")):
        if x not in ends:
            ctx.notes.append(f"solid_solution: the generator made no {name} end member (x={x:g})")
            relaxed[x] = None
            continue
        relaxed[x] = ctx.relax(
            ends[x].structure,
            f"{name} end member {ends[x].structure.composition.reduced_formula}",
            cell=True,
        )
    host, sub = relaxed[0.0], relaxed[1.0]
    if host is None or sub is None:
        return None
    return host, sub


@register("solid_solution")
def solid_solution_properties(ctx: PropertyContext) -> None:
    """One ``mixing_energy`` (eV/f.u.) per ordering, labelled by :func:`mixing_label`."""
    generation = ctx.generation()
    for skipped in generation.skipped:
        ctx.notes.append(f"{skipped.label}: skipped, {skipped.reason}")
    docs = [d for d in generation.structures if isinstance(d.details, SolidSolutionDetails)]
    orderings = [d for d in docs if d.role == "ordering"]
    ends = _end_members(ctx, docs)
    if ends is None:
        ctx.notes.append(
            f"solid_solution: no mixing energy of the {len(orderings)} orderings "
            "without both end members"
        )
        return
    host, sub = ends
    reduced, _ = ctx.relaxed_bulk.composition.get_reduced_composition_and_factor()
    atoms_per_fu = reduced.num_atoms
    for doc in orderings:
        details = _details(doc)
        label = mixing_label(details)
        ordering = ctx.relax(doc.structure, f"ordering {label}", cell=True)
        if ordering is None:
            continue
        n_fu = len(doc.structure) / atoms_per_fu
        e_host, e_sub = float(host.energy) / n_fu, float(sub.energy) / n_fu  # type: ignore[arg-type]
        value = mixing_energy(float(ordering.energy) / n_fu, details.fraction, e_host, e_sub)  # type: ignore[arg-type]
        ctx.add(
            "mixing_energy",
            label,
            value,
            "eV/f.u.",
            {"ordering": ordering, "host": host, "substituted": sub},
            formula_unit=reduced.reduced_formula,
            fraction=details.fraction,
            ordering_index=details.ordering_index,
            sublattice_species=details.sublattice_species,
            substituent=details.substituent,
            substituted_site_indices=details.substituted_site_indices,
            n_formula_units=n_fu,
            ordering_formula=doc.structure.composition.reduced_formula,
            ordering_energy_eV=ordering.energy,
            unrelaxed_ordering_energy_eV=ordering.frames.energies[0],
            host_energy_per_fu_eV=e_host,
            substituted_energy_per_fu_eV=e_sub,
        )
