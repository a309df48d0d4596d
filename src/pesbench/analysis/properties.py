"""Physical properties of the out-of-distribution categories, and their model-vs-DFT errors.

Surface energy, defect formation energy, mixing energy of solid-solution orderings,
migration barrier, and phonon frequencies (force constants through phonopy). Each function
takes energies (eV, total unless named per atom) or forces (eV/Å) and returns the property;
:func:`compare_property` turns a model value and a reference value into one row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pymatgen.core import Structure

if TYPE_CHECKING:  # phonopy and pymatgen.io.phonopy cost seconds: imported where used
    from phonopy import Phonopy

__all__ = [
    "EV_PER_A2_TO_J_PER_M2",
    "PropertyComparison",
    "build_phonopy",
    "compare_property",
    "defect_formation_energy",
    "force_constants",
    "migration_barrier",
    "mixing_energy",
    "phonon_frequencies",
    "surface_energy",
]

EV_PER_A2_TO_J_PER_M2 = 16.02176634
"""1 eV/Å² in J/m² (1.602176634e-19 J / 1e-20 m²)."""


def surface_energy(
    slab_energy: float, slab_atoms: int, bulk_energy: float, bulk_atoms: int, area: float
) -> float:
    """Surface energy of a symmetric slab, ``(E_slab - n E_bulk/atom) / (2 A)``, eV/Å².

    Parameters
    ----------
    slab_energy, bulk_energy
        Total energies of the slab cell and of the bulk reference cell, eV.
    slab_atoms, bulk_atoms
        Number of atoms of each cell.
    area
        Area of ONE surface of the slab cell, Å² (the slab has two surfaces).

    Returns
    -------
    float
        eV/Å²; multiply by :data:`EV_PER_A2_TO_J_PER_M2` for J/m².
    """
    if area <= 0 or slab_atoms <= 0 or bulk_atoms <= 0:
        raise ValueError("area and atom counts must be positive")
    return (slab_energy - slab_atoms * bulk_energy / bulk_atoms) / (2.0 * area)


def defect_formation_energy(
    defect_energy: float,
    pristine_energy: float,
    added: Mapping[str, int],
    chemical_potentials: Mapping[str, float],
) -> float:
    """Formation energy of a neutral point defect, ``E_d - E_p - sum_i n_i mu_i``, eV.

    Parameters
    ----------
    defect_energy, pristine_energy
        Total energies of the defective and the pristine supercells, eV.
    added
        Element -> number of atoms added to the supercell (negative: removed). A vacancy
        of O is ``{"O": -1}``; a Mg-on-Ca antisite ``{"Mg": 1, "Ca": -1}``.
    chemical_potentials
        Element -> chemical potential, eV/atom (e.g. energy per atom of its elemental
        phase computed at the same level of theory).

    Returns
    -------
    float
        eV.
    """
    missing = [el for el, n in added.items() if n and el not in chemical_potentials]
    if missing:
        raise ValueError(f"no chemical potential for {', '.join(missing)}")
    exchange = sum(n * chemical_potentials[el] for el, n in added.items() if n)
    return defect_energy - pristine_energy - exchange


def mixing_energy(
    energy_per_atom: float, fraction: float, end_a_per_atom: float, end_b_per_atom: float
) -> float:
    """Mixing energy of an ordering, ``e(x) - (1 - x) e_A - x e_B``, eV/atom.

    Valid for substitution on one sublattice (the number of atoms per cell is fixed), e.g.
    Ca_xMg_{2-x}O_2 between MgO (``x = 0``, end A) and CaO (``x = 1``, end B).

    Parameters
    ----------
    energy_per_atom
        Energy per atom of the ordering, eV/atom.
    fraction
        Fraction ``x`` of the sublattice substituted (0..1).
    end_a_per_atom, end_b_per_atom
        Energies per atom of the unsubstituted and the fully substituted end members.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    return energy_per_atom - (1.0 - fraction) * end_a_per_atom - fraction * end_b_per_atom


def migration_barrier(image_energies: ArrayLike) -> float:
    """Barrier of one path: the highest image energy minus the initial endpoint's, eV.

    Parameters
    ----------
    image_energies
        Total energies along the path, endpoints included, in path order, eV.
    """
    e = np.asarray(image_energies, dtype=float)
    if e.ndim != 1 or e.size < 2:
        raise ValueError("a path needs at least two energies, in order")
    return float(e.max() - e[0])


def build_phonopy(
    unitcell: Structure,
    supercell_matrix: ArrayLike,
    dataset: Mapping[str, object],
    primitive_matrix: ArrayLike | None = None,
    symprec: float = 1e-5,
) -> Phonopy:
    """A phonopy object of ``unitcell`` with the displacement ``dataset`` set.

    Parameters
    ----------
    unitcell
        The unit cell given to phonopy when the displacements were generated.
    supercell_matrix, primitive_matrix
        As given to phonopy then (integers; fractional, relative to the unit cell).
    dataset
        phonopy's displacement dataset (``natom``, ``first_atoms``).
    symprec
        Symmetry tolerance, Å.
    """
    from phonopy import Phonopy
    from pymatgen.io.phonopy import get_phonopy_structure

    phonon = Phonopy(
        get_phonopy_structure(unitcell),
        supercell_matrix=np.asarray(supercell_matrix, dtype=int),
        primitive_matrix=None if primitive_matrix is None else np.asarray(primitive_matrix),
        symprec=symprec,
    )
    phonon.dataset = dict(dataset)  # type: ignore[assignment]
    return phonon


def force_constants(
    phonon: Phonopy, forces: Sequence[ArrayLike], perfect_forces: ArrayLike | None = None
) -> NDArray:
    """Force constants from the forces of the displaced supercells, eV/Å².

    Parameters
    ----------
    phonon
        From :func:`build_phonopy` (its dataset fixes the displacements).
    forces
        Forces of each displaced supercell, (n_atoms, 3) eV/Å, in dataset order.
    perfect_forces
        Residual forces of the undisplaced supercell, subtracted from each set if given.

    Returns
    -------
    numpy.ndarray
        (n_atoms, n_atoms, 3, 3) force constants, eV/Å²; also left on ``phonon``.
    """
    sets = np.asarray(forces, dtype=float)
    if perfect_forces is not None:
        sets = sets - np.asarray(perfect_forces, dtype=float)[None]
    phonon.forces = sets
    phonon.produce_force_constants()
    return np.asarray(phonon.force_constants)


def phonon_frequencies(
    phonon: Phonopy,
    forces: Sequence[ArrayLike],
    *,
    perfect_forces: ArrayLike | None = None,
    qpoints: ArrayLike | None = None,
    mesh: Sequence[int] = (8, 8, 8),
) -> NDArray:
    """Phonon frequencies (THz) from forces: at ``qpoints``, or on a Γ-centred ``mesh``.

    Parameters
    ----------
    phonon
        From :func:`build_phonopy`; its force constants are replaced.
    forces, perfect_forces
        As for :func:`force_constants`, eV/Å.
    qpoints
        Reduced q-points (n_q, 3) of the primitive cell; default the mesh.
    mesh
        Sampling mesh when ``qpoints`` is None.

    Returns
    -------
    numpy.ndarray
        (n_q, n_branches) frequencies in THz (imaginary modes as negative numbers).
    """
    force_constants(phonon, forces, perfect_forces)
    if qpoints is not None:
        phonon.run_qpoints(np.asarray(qpoints, dtype=float))
        return np.asarray(phonon.get_qpoints_dict()["frequencies"])
    phonon.run_mesh(list(mesh), is_gamma_center=True)
    mesh_dict: dict[str, object] = dict(phonon.get_mesh_dict())
    return np.asarray(mesh_dict["frequencies"])


@dataclass(frozen=True)
class PropertyComparison:
    """A property computed from a model and from the reference.

    Attributes
    ----------
    name
        What it is, e.g. ``"surface_energy"``, ``"max_phonon_frequency"``.
    unit
        Unit of the values (``"eV/Å²"``, ``"eV"``, ``"THz"``).
    reference, model
        The values from DFT and from the model.
    error
        ``model - reference``.
    ratio
        ``model / reference`` (NaN when the reference is zero); < 1: underestimated.
    label
        Which instance of the property (``"(1, 1, 1) t0"``, ``"hop 0"``).
    """

    name: str
    unit: str
    reference: float
    model: float
    error: float
    ratio: float
    label: str = ""

    def as_dict(self) -> dict[str, str | float]:
        """The fields as a flat dict."""
        return asdict(self)


def compare_property(
    name: str, unit: str, reference: float, model: float, label: str = ""
) -> PropertyComparison:
    """One row: the model value, the reference value, their difference and their ratio."""
    ratio = model / reference if reference != 0 else float("nan")
    return PropertyComparison(
        name=name,
        unit=unit,
        reference=float(reference),
        model=float(model),
        error=float(model - reference),
        ratio=float(ratio),
        label=label,
    )
