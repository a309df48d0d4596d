"""Surface energies of relaxed slabs against the bulk in the slab's orientation.

``gamma = (E_slab - n_slab * E_bulk/atom) / (2 A)`` (J/m²), with the slab relaxed in its
positions at fixed cell (both faces free: the slabs are symmetric) and the bulk energy per
atom from the side's relaxed bulk turned into the slab's orientation (pymatgen's oriented
unit cell: the slab's in-plane lattice, so a k-mesh by density is the same in plane for
slab and bulk). Same method as matcalc's ``SurfaceCalc`` and atomate2's surface flows.
"""

from __future__ import annotations

from pesbench.analysis.properties import EV_PER_A2_TO_J_PER_M2, surface_energy
from pesbench.properties.base import PropertyContext, register
from pesbench.schemas.structure import SurfaceDetails

__all__ = ["surface_properties"]


@register("surface")
def surface_properties(ctx: PropertyContext) -> None:
    """One ``surface_energy`` per slab (label ``(h, k, l) t<termination>``)."""
    generation = ctx.generation()
    for skipped in generation.skipped:
        ctx.notes.append(f"{skipped.label}: skipped, {skipped.reason}")
    for doc in generation.structures:
        details = doc.details
        if doc.role != "slab" or not isinstance(details, SurfaceDetails):
            continue
        label = f"{details.miller_index} t{details.termination_index}"
        if details.oriented_bulk is None or details.area_A2 is None:
            ctx.notes.append(f"slab {label}: no oriented bulk or area recorded")
            continue
        bulk = ctx.relax(details.oriented_bulk, f"oriented bulk {label}", static=True)
        slab = ctx.relax(doc.structure, f"slab {label}")
        if bulk is None or slab is None:
            continue
        gamma = surface_energy(  # raw energies: a non-stoichiometric slab's MP2020 corrections
            ctx.side.raw_energy(slab),  # would not cancel (Side.raw_energy)
            len(doc.structure),
            ctx.side.raw_energy(bulk),
            len(details.oriented_bulk),
            details.area_A2,
        )
        ctx.add(
            "surface_energy",
            label,
            gamma * EV_PER_A2_TO_J_PER_M2,
            "J/m^2",
            {"slab": slab, "oriented_bulk": bulk},
            miller_index=list(details.miller_index or ()),
            area_A2=details.area_A2,
            slab_energy_eV=slab.energy,
            slab_atoms=len(doc.structure),
            bulk_energy_per_atom_eV=bulk.energy_per_atom,
            unrelaxed_slab_energy_eV=slab.frames.energies[0],
        )
