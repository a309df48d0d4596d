"""Formation energies of neutral point defects from relaxed supercells and reference phases.

``E_f = E_defect - E_pristine - sum_i n_i mu_i`` (eV), with ``n_i`` the number of atoms of
element ``i`` added to the supercell (negative when removed) and ``mu_i`` its chemical
potential (:func:`pesbench.analysis.properties.defect_formation_energy`).

Every term is the side's own: the pristine and the defect supercells are generated from
the side's relaxed bulk (so the lattice is the side's) and relaxed in their positions at
that fixed cell; the chemical potentials come from reference phases the side computes
itself at the same level. All the terms (pristine, defects, reference phases) are computed
on the side's :meth:`~pesbench.properties.sides.Side.open_shell` variant: spin-polarised
DFT, since a defect cell, a magnetic elemental solid or O2 may be open-shell, and a
difference of energies is only meaningful at one level (a closed-shell cell comes out
the same, at twice the cost); models are unchanged.

Chemical potentials are those of the element-rich limit: each element in its elemental
reference phase (Freysoldt et al., Rev. Mod. Phys. 86, 253 (2014), Sec. II.B), the bounds
of the allowed range of ``mu_i``; any other condition of the range shifts ``E_f`` by a
known constant, the same for DFT and a model, so comparing sides in this limit loses
nothing. The reference phases (:func:`reference_phase`):

- H, N, O, F, Cl (gases at standard conditions): the diatomic molecule in a cubic box of
  :data:`MOLECULE_BOX_A` Å, positions relaxed at fixed cell; ``mu = E(X2) / 2``.
  Spin-polarised on DFT sides: O2 is a triplet. The known overbinding of O2 by GGA is not
  corrected (no fitted correction enters either side): a model that learned MP2020-corrected
  energies (CHGNet) has each cell's correction removed first (:meth:`Side.raw_energy`), so
  that an O vacancy's formation energy does not carry the oxide correction of one O atom.
- Every other element: the elemental solid of ASE's reference state
  (``ase.build.bulk(symbol)``: fcc Cu, bcc Fe, hcp Mg, diamond Si, ...), relaxed in cell
  and positions; ``mu`` = its energy per atom. Elements for which ASE has no solid
  reference state it can build (He, B, P, S, Mn, Ga, Se, Br, Te, I, ...) get no
  chemical potential: their defects get a note instead of a value.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ase import Atoms
from ase.build import bulk as ase_bulk
from ase.build import molecule
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from pesbench.analysis.properties import defect_formation_energy
from pesbench.properties.base import PropertyContext, register
from pesbench.properties.sides import Side
from pesbench.schemas.relaxation import RelaxationDoc
from pesbench.schemas.structure import DefectDetails, StructureDoc
from pesbench.structures.common import elemental_reference_phase

__all__ = ["MOLECULE_BOX_A", "defect_label", "defect_properties", "reference_phase"]

MOLECULE_BOX_A = 12.0
"""Edge of the cubic box of the diatomic reference molecules (Å)."""


def reference_phase(element: str) -> tuple[str, Structure] | None:
    """The reference phase of ``element`` for its chemical potential, unrelaxed.

    Returns
    -------
    tuple or None
        Its formula (``"O2"``, ``"Cu"``) and structure: the diatomic molecule centred in a
        cubic box of :data:`MOLECULE_BOX_A` Å for H, N, O, F and Cl, else ASE's elemental
        solid; None when ASE has no solid reference state for the element.
    """
    formula = elemental_reference_phase(element)
    if formula != element:
        atoms = molecule(formula)
        atoms.set_cell([MOLECULE_BOX_A] * 3)
        atoms.center()
        atoms.pbc = True
    else:
        try:
            atoms = ase_bulk(element)
        except (ValueError, RuntimeError):  # no reference data, or a basis ASE cannot build
            return None
    # plain species and positions: the side sets its own initial moments (open shell)
    bare = Atoms(atoms.symbols, atoms.positions, cell=atoms.cell, pbc=True)
    return formula, AseAtomsAdaptor.get_structure(bare)


@dataclass
class _ChemicalPotentials:
    """Chemical potentials computed on one side, once per element (None: failed)."""

    ctx: PropertyContext
    side: Side
    done: dict[str, tuple[float, RelaxationDoc, str] | None] = field(default_factory=dict)

    def get(self, element: str) -> tuple[float, RelaxationDoc, str] | None:
        """``(mu, relaxation, formula)`` of ``element``, eV/atom; None (with a note) if none."""
        if element not in self.done:
            self.done[element] = self._compute(element)
        return self.done[element]

    def _compute(self, element: str) -> tuple[float, RelaxationDoc, str] | None:
        phase = reference_phase(element)
        if phase is None:
            self.ctx.notes.append(
                f"chemical potential of {element}: ASE has no solid reference state for it"
            )
            return None
        formula, structure = phase
        is_solid = formula == element
        doc = self.ctx.relax(structure, f"reference phase {formula}", cell=is_solid, side=self.side)
        if doc is None or doc.energy_per_atom is None:
            return None
        return self.side.raw_energy(doc) / len(structure), doc, formula


def defect_label(details: DefectDetails, interstitial_index: int = 0) -> str:
    """``vacancy Cu 0``, ``antisite Mg->Ca 0`` (removed->added), ``interstitial Li 1``.

    The number is the symmetry-distinct bulk site (vacancies, antisites) or the rank of
    the interstitial site (most spacious first) among those of its species.
    """
    kind = details.defect_type
    if kind == "vacancy":
        return f"vacancy {details.removed_species} {details.bulk_site_index}"
    if kind == "antisite":
        return (
            f"antisite {details.removed_species}->{details.added_species} {details.bulk_site_index}"
        )
    return f"{kind} {details.added_species} {interstitial_index}"


def _exchanged(details: DefectDetails) -> dict[str, int]:
    """Element -> atoms added to the supercell (negative: removed)."""
    added: Counter[str] = Counter()
    if details.added_species:
        added[details.added_species] += 1
    if details.removed_species:
        added[details.removed_species] -= 1
    return {el: n for el, n in added.items() if n}


def _one_defect(
    ctx: PropertyContext,
    doc: StructureDoc,
    label: str,
    pristine: RelaxationDoc,
    mus: _ChemicalPotentials,
) -> None:
    """Relax one defect supercell and add its formation energy (or a note)."""
    details = doc.details
    assert isinstance(details, DefectDetails)
    defect = ctx.relax(doc.structure, label, side=mus.side)
    added = _exchanged(details)
    refs = {el: mus.get(el) for el in added}
    missing = sorted(el for el, ref in refs.items() if ref is None)
    if missing:
        ctx.notes.append(f"{label}: no chemical potential of {', '.join(missing)}")
    if defect is None or missing:
        return
    mu = {el: ref[0] for el, ref in refs.items() if ref is not None}
    e_defect, e_pristine = mus.side.raw_energy(defect), mus.side.raw_energy(pristine)
    value = defect_formation_energy(e_defect, e_pristine, added, mu)
    terms = {"defect": defect, "pristine": pristine}
    terms.update({f"mu_{el}": ref[1] for el, ref in refs.items() if ref is not None})
    ctx.add(
        "formation_energy",
        label,
        value,
        "eV",
        terms,
        defect_type=details.defect_type,
        removed_species=details.removed_species,
        added_species=details.added_species,
        bulk_site_index=details.bulk_site_index,
        site_index=details.site_index,
        multiplicity=details.multiplicity,
        wyckoff=details.wyckoff,
        defect_frac_coords=list(details.defect_frac_coords or ()),
        supercell_atoms=len(doc.structure),
        atoms_added=added,
        chemical_potentials_eV=mu,
        reference_phases={el: ref[2] for el, ref in refs.items() if ref is not None},
        defect_energy_eV=defect.energy,
        pristine_energy_eV=pristine.energy,
        # a model of MP2020-corrected energies: the correction of the two cells, removed
        correction_removed_eV=(defect.energy - e_defect) - (pristine.energy - e_pristine),  # type: ignore[operator]
        unrelaxed_defect_energy_eV=defect.frames.energies[0],
    )


@register("defect")
def defect_properties(ctx: PropertyContext) -> None:
    """One ``formation_energy`` (eV) per defect, labelled by :func:`defect_label`."""
    generation = ctx.generation()
    for skipped in generation.skipped:
        ctx.notes.append(f"{skipped.label}: skipped, {skipped.reason}")
    side = ctx.side.open_shell()
    pristine_doc = next((d for d in generation.structures if d.role == "pristine"), None)
    if pristine_doc is None:
        ctx.notes.append("defect: the generator made no pristine supercell")
        return
    pristine = ctx.relax(pristine_doc.structure, "pristine supercell", side=side)
    if pristine is None:
        ctx.notes.append("defect: no formation energy without the pristine supercell")
        return
    mus = _ChemicalPotentials(ctx, side)
    ranks: Counter[str] = Counter()
    for doc in generation.structures:
        details = doc.details
        if doc.role == "pristine" or not isinstance(details, DefectDetails):
            continue
        rank = ranks[str(details.added_species)] if details.defect_type == "interstitial" else 0
        if details.defect_type == "interstitial":
            ranks[str(details.added_species)] += 1
        _one_defect(ctx, doc, defect_label(details, rank), pristine, mus)
