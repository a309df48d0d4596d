"""Excess energies of high-energy structures over the side's own relaxed bulk.

The rattled and strained samples are generated again from the side's relaxed bulk (same
sigmas, strains and seed: the same random displacements on every side), and each is a
single point. ``excess = E / N - E_bulk / N_bulk`` (eV/atom), with ``E_bulk / N_bulk``
the energy per atom of the side's bulk relaxation: every term from the same side.

MD snapshots are not regenerated: an MD driven by the model under test samples that
model's own PES, so the snapshots would differ from side to side and would flatter a
soft model. ``md_snapshots`` is set to 0 here, and a note says so when the parameters
asked for MD (the campaign's snapshots, sampled by one fixed potential, are compared as
single points elsewhere).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pesbench.properties.base import PropertyContext, register
from pesbench.schemas.structure import HighEnergyDetails
from pesbench.structures.registry import generate

__all__ = ["high_energy_properties", "sample_label"]


def sample_label(details: HighEnergyDetails) -> str:
    """``rattled σ=<sigma> #<sample>`` or ``strained (<ea>, <eb>, <ec>)``."""
    if details.mode == "rattled":
        return f"rattled σ={details.sigma_A:g} #{details.sample_index}"
    if details.mode == "strained":
        return "strained (" + ", ".join(f"{e:g}" for e in details.strain or ()) + ")"
    return f"{details.mode} #{details.sample_index}"


@register("high_energy")
def high_energy_properties(ctx: PropertyContext) -> None:
    """One ``excess_energy`` (eV/atom) per rattled or strained sample."""
    parameters = dict(ctx.parameters)
    if parameters.get("md_snapshots"):
        ctx.notes.append(
            f"md_snapshot: {parameters['md_snapshots']} MD snapshots asked, none computed: "
            "MD is not sampled with the side under test (md_snapshots set to 0)"
        )
        parameters["md_snapshots"] = 0
    generation = generate(ctx.relaxed_bulk, ctx.category, parameters)
    for skipped in generation.skipped:
        ctx.notes.append(f"{skipped.label}: skipped, {skipped.reason}")
    bulk_per_atom = ctx.bulk.energy_per_atom
    assert bulk_per_atom is not None
    samples = [d for d in generation.structures if isinstance(d.details, HighEnergyDetails)]
    terms = ctx.relax_many(  # single points, batched on a model side
        [doc.structure for doc in samples],
        [f"excess_energy {sample_label(doc.details)}" for doc in samples],  # type: ignore[arg-type]
        static=True,
    )
    for doc, term in zip(samples, terms, strict=True):
        details = doc.details
        assert isinstance(details, HighEnergyDetails)
        label = sample_label(details)
        if term is None or term.energy_per_atom is None:
            continue
        extra: dict[str, Any] = {
            "mode": details.mode,
            "sample_index": details.sample_index,
            "sigma_A": details.sigma_A,
            "strain": None if details.strain is None else list(details.strain),
            "n_atoms": len(doc.structure),
            "energy_eV": term.energy,
            "bulk_energy_per_atom_eV": bulk_per_atom,
            "max_force_eV_per_A": float(np.linalg.norm(np.asarray(term.forces), axis=1).max()),
        }
        ctx.add(
            "excess_energy",
            label,
            term.energy_per_atom - bulk_per_atom,
            "eV/atom",
            {"structure": term, "bulk": ctx.bulk},
            **extra,
        )
