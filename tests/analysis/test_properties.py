from __future__ import annotations

import numpy as np
import pytest
from phonopy import Phonopy
from pymatgen.core import Lattice, Structure
from pymatgen.io.phonopy import get_phonopy_structure, get_pmg_structure

from pesbench.analysis.properties import (
    EV_PER_A2_TO_J_PER_M2,
    build_phonopy,
    compare_property,
    defect_formation_energy,
    migration_barrier,
    mixing_energy,
    phonon_frequencies,
    surface_energy,
)

THZ = np.sqrt(1.602176634e-19 / 1.66053906660e-27) * 1e10 / (2 * np.pi) / 1e12
"""sqrt(eV / Å² / amu) in THz (cycles): about 15.633."""


def test_surface_energy_by_hand() -> None:
    # slab of 12 atoms at -4.5 eV/atom bulk, 3.2 eV above bulk, area 10 Å²
    gamma = surface_energy(-54.0 + 3.2, 12, -9.0, 2, 10.0)
    assert gamma == pytest.approx(3.2 / 20.0)
    assert gamma * EV_PER_A2_TO_J_PER_M2 == pytest.approx(2.5635, abs=1e-4)
    with pytest.raises(ValueError, match="positive"):
        surface_energy(-1.0, 1, -1.0, 1, 0.0)


def test_defect_formation_energy_by_hand() -> None:
    mu = {"O": -4.93, "Mg": -1.51, "Ca": -1.99}
    # O vacancy: E_d - E_p + mu_O
    assert defect_formation_energy(-370.0, -378.0, {"O": -1}, mu) == pytest.approx(8.0 - 4.93)
    # Ca on a Mg site: E_d - E_p - mu_Ca + mu_Mg
    e = defect_formation_energy(-377.0, -378.0, {"Ca": 1, "Mg": -1}, mu)
    assert e == pytest.approx(1.0 + 1.99 - 1.51)
    with pytest.raises(ValueError, match="Li"):
        defect_formation_energy(0.0, 0.0, {"Li": 1}, mu)


def test_mixing_energy_and_migration_barrier() -> None:
    assert mixing_energy(-5.0, 0.25, -5.2, -4.6) == pytest.approx(
        -5.0 - (0.75 * -5.2 + 0.25 * -4.6)
    )
    assert mixing_energy(-5.2, 0.0, -5.2, -4.6) == pytest.approx(0.0)
    assert migration_barrier([-10.0, -9.7, -9.4, -9.6, -10.1]) == pytest.approx(0.6)
    with pytest.raises(ValueError, match="two"):
        migration_barrier([1.0])


def test_compare_property() -> None:
    row = compare_property("surface_energy", "eV/Å²", 0.10, 0.08)
    assert row.error == pytest.approx(-0.02)
    assert row.ratio == pytest.approx(0.8)


# --- phonons from a known harmonic model -----------------------------------------------

A = 2.6  # simple cubic lattice constant, Å
SPRINGS = {1.0: 2.0, np.sqrt(2.0): 0.6}  # |R|/a -> central spring constant, eV/Å²


def _neighbour_vectors() -> list[tuple[np.ndarray, float]]:
    out = []
    for v in np.ndindex(5, 5, 5):
        r = np.array(v) - 2
        norm = np.linalg.norm(r)
        for dist, k in SPRINGS.items():
            if abs(norm - dist) < 1e-9:
                out.append((r.astype(float), k))
    return out


def _harmonic_forces(
    supercell: Structure, displaced: int, d: np.ndarray, scale: float
) -> np.ndarray:
    """F = -Φ u of central springs, one atom displaced by d (linear response)."""
    forces = np.zeros((len(supercell), 3))
    for site in supercell.get_neighbors(supercell[displaced], A * 1.5):
        vec = site.coords - supercell[displaced].coords
        norm = np.linalg.norm(vec)
        k = next(kk for dist, kk in SPRINGS.items() if abs(norm / A - dist) < 1e-6)
        e = vec / norm
        f = scale * k * np.dot(e, d) * e
        forces[displaced] -= f
        forces[site.index] += f
    return forces


def _analytic_thz(q: np.ndarray, mass: float) -> np.ndarray:
    dyn = np.zeros((3, 3))
    for r, k in _neighbour_vectors():
        e = r / np.linalg.norm(r)
        dyn += k * (1 - np.cos(2 * np.pi * np.dot(q, r))) * np.outer(e, e)
    return np.sqrt(np.clip(np.linalg.eigvalsh(dyn / mass), 0, None)) * THZ


def _displaced_forces(scale: float) -> tuple[Phonopy, list[np.ndarray]]:
    unit = Structure(Lattice.cubic(A), ["Al"], [[0, 0, 0]])
    gen = Phonopy(get_phonopy_structure(unit), supercell_matrix=np.eye(3, dtype=int) * 3)
    gen.generate_displacements(distance=0.01)
    phonon = build_phonopy(unit, np.eye(3, dtype=int) * 3, gen.dataset)
    supercell = get_pmg_structure(phonon.supercell)
    forces = [
        _harmonic_forces(supercell, d["number"], np.asarray(d["displacement"]), scale)
        for d in gen.dataset["first_atoms"]
    ]
    return phonon, forces


def test_phonon_frequencies_of_a_harmonic_model_match_analytic() -> None:
    phonon, forces = _displaced_forces(1.0)
    mass = float(phonon.primitive.masses[0])
    qpoints = np.array(
        [[0.5, 0, 0], [0.5, 0.5, 0], [0.5, 0.5, 0.5], [1 / 3, 0, 0], [1 / 3, 1 / 3, 0]]
    )
    freqs = phonon_frequencies(phonon, forces, qpoints=qpoints)
    for q, got in zip(qpoints, freqs, strict=True):
        assert np.sort(got) == pytest.approx(np.sort(_analytic_thz(q, mass)), rel=1e-6, abs=1e-6)
    # closed form at X = (1/2, 0, 0): m ω² = 4 k1 (two x-neighbours) + 8 k2 (eight <110> with x ≠ 0,
    # each 2 k2 cos²45°)
    assert freqs[0].max() == pytest.approx(np.sqrt((4 * 2.0 + 8 * 0.6) / mass) * THZ, rel=1e-6)


def test_softened_forces_scale_frequencies_by_sqrt_s() -> None:
    phonon, ref = _displaced_forces(1.0)
    _, soft = _displaced_forces(0.64)
    f_ref = phonon_frequencies(phonon, ref, mesh=(4, 4, 4)).max()
    f_soft = phonon_frequencies(phonon, soft, mesh=(4, 4, 4)).max()
    assert compare_property("max_phonon_frequency", "THz", f_ref, f_soft).ratio == pytest.approx(
        0.8, rel=1e-9
    )
