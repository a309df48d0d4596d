"""GPAW for real: a 2-atom single point, a forced SCF failure, the doctor row; and (slow) the
acceptance check of forces and stress against finite differences of the GPAW energy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ase.units import GPa
from gpaw_engine import usable_gpaw
from pymatgen.core import Lattice, Structure

from pesbench.cli.doctor import OK, check_gpaw
from pesbench.engines.gpaw import GpawEngine
from pesbench.engines.gpaw.run import default_cores
from pesbench.schemas.base import Functional
from pesbench.schemas.reference import ReferenceDoc
from pesbench.settings import PesbenchSettings

CORES = min(2, default_cores())


@pytest.fixture(scope="module")
def engine() -> GpawEngine:
    """A usable GPAW engine; missing GPAW fails under CI and skips (with the reason) elsewhere."""
    return usable_gpaw(PesbenchSettings(dft_cores=CORES))


def si2() -> Structure:
    return Structure(Lattice.cubic(5.43), ["Si", "Si"], [[0, 0, 0], [0.27, 0.25, 0.24]])


FAST = {"ecut": 250, "kpts": [2, 2, 2]}


def test_pbe_single_point_on_two_atoms(engine: GpawEngine, tmp_path: Path) -> None:
    doc = engine.compute(si2(), "PBE", tmp_path, overrides=FAST)
    assert doc.status == "success", doc.failure_reason
    assert doc.converged_electronic is True
    assert doc.energy is not None
    assert np.isfinite(doc.energy)
    forces = np.asarray(doc.forces)
    assert forces.shape == (2, 3)
    assert np.abs(forces).max() > 0.1  # displaced off the ideal site: real forces
    assert np.allclose(forces.sum(axis=0), 0, atol=1e-2)  # Newton's third law
    stress = np.asarray(doc.stress)
    assert np.allclose(stress, stress.T)
    assert doc.magmoms is None
    assert doc.code_version is not None
    assert doc.code_version.startswith("26.")
    assert doc.wall_time_s is not None
    assert doc.wall_time_s > 0
    for name in ("inputs.json", "results.json", "gpaw.txt", "gpaw-stdout.txt"):
        assert (tmp_path / name).is_file(), name
    assert "Converged" in (tmp_path / "gpaw.txt").read_text()
    assert json.loads((tmp_path / "inputs.json").read_text())["parameters"]["mode"]["ecut"] == 250


def test_unconverged_scf_is_a_failed_reference(engine: GpawEngine, tmp_path: Path) -> None:
    doc = engine.compute(si2(), "PBE", tmp_path, overrides={**FAST, "maxiter": 2})
    assert doc.status == "failed"
    assert doc.failure_reason == "SCF not converged in 2 iterations"
    assert doc.converged_electronic is False
    assert doc.forces is None
    assert (tmp_path / "gpaw.txt").read_text()  # the log is kept


def test_doctor_reports_gpaw_usable(engine: GpawEngine) -> None:
    row = check_gpaw(engine.settings)
    assert row.status == OK, row.detail
    assert "r2SCAN ok" in row.detail
    assert "FHC check off" in row.detail  # the libxc built by scripts/install-gpaw.sh


@pytest.mark.slow
def test_pbe_u_applies_mp_u_and_spin(engine: GpawEngine, tmp_path: Path) -> None:
    nio = Structure(
        Lattice.from_parameters(2.95, 2.95, 2.95, 60, 60, 60), ["Ni", "O"], [[0, 0, 0], [0.5] * 3]
    )
    doc = engine.compute(nio, "PBE+U", tmp_path, overrides=FAST)
    assert doc.status == "success", doc.failure_reason
    u = doc.input_settings["hubbard_u_eV"]["Ni"]["U"]
    assert u > 0
    log = (tmp_path / "gpaw.txt").read_text()
    assert f"U: {u:g}" in log  # GPAW applied it to Ni's d shell
    assert doc.magmoms is not None
    assert abs(doc.magmoms[0]) > 0.3  # spin-polarised from MP's initial moment


# --- acceptance 4: forces and stress are derivatives of the GPAW energy ---------------------
# Low cutoff, Γ point only: the check is the consistency of the engine's forces and stress
# (units, signs, conversion) with its own energy, which needs no convergence. GPAW's stress
# is the derivative at a fixed plane-wave basis (no Pulay stress; at 400 eV that is tens of
# GPa for MgO), so the strain derivative is taken at a fixed basis too: an isotropic strain
# (1 + e) with the cutoff scaled by 1 / (1 + e)^2 keeps the same set of G-vectors.
FD_STEP = 0.01  # Å
FD_STRAIN = 0.004
SLOW = {"Si8": {"ecut": 250.0, "kpts": [1, 1, 1]}, "MgO8": {"ecut": 400.0, "kpts": [1, 1, 1]}}


def _rattled(name: str) -> Structure:
    rng = np.random.default_rng(7)
    if name == "Si8":
        cell = Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.35), ["Si"], [[0, 0, 0]])
    else:
        coords = [[0, 0, 0], [0.5, 0.5, 0.5]]
        cell = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.15), ["Mg", "O"], coords)
    assert len(cell) == 8
    for i in range(len(cell)):
        cell.translate_sites([i], rng.normal(0, 0.06, 3), frac_coords=False, to_unit_cell=True)
    return cell


def _energy(engine: GpawEngine, s: Structure, f: Functional, d: Path, o: dict[str, Any]) -> float:
    doc = engine.compute(s, f, d, overrides=o)
    assert doc.status == "success", doc.failure_reason
    assert doc.energy is not None
    return doc.energy


@pytest.mark.slow
@pytest.mark.parametrize("functional", ["PBE", "r2SCAN"])
@pytest.mark.parametrize("name", ["Si8", "MgO8"])
def test_forces_and_stress_match_finite_differences(
    engine: GpawEngine, tmp_path: Path, name: str, functional: Functional
) -> None:
    cell, overrides = _rattled(name), SLOW[name]
    doc: ReferenceDoc = engine.compute(cell, functional, tmp_path / "ref", overrides=overrides)
    assert doc.status == "success", doc.failure_reason
    forces, stress = np.asarray(doc.forces), np.asarray(doc.stress)

    # the largest force component: F = -(E(x+h) - E(x-h)) / 2h
    atom, axis = np.unravel_index(np.abs(forces).argmax(), forces.shape)
    energies = []
    for sign in (1, -1):
        moved = cell.copy()
        shift = np.zeros(3)
        shift[axis] = sign * FD_STEP
        moved.translate_sites([int(atom)], shift, frac_coords=False, to_unit_cell=False)
        energies.append(_energy(engine, moved, functional, tmp_path / f"f{sign}", overrides))
    fd_force = -(energies[0] - energies[1]) / (2 * FD_STEP)
    assert abs(forces[atom, axis]) > 0.3
    assert fd_force == pytest.approx(forces[atom, axis], rel=0.01), (fd_force, forces)

    # the trace of the stress: dE/de = V (s_xx + s_yy + s_zz) (ASE sign, tensile +), GPa
    energies = []
    for sign in (1, -1):
        scale = 1 + sign * FD_STRAIN
        strained = Structure(Lattice(cell.lattice.matrix * scale), cell.species, cell.frac_coords)
        fixed_basis = {**overrides, "ecut": overrides["ecut"] / scale**2}
        energies.append(_energy(engine, strained, functional, tmp_path / f"s{sign}", fixed_basis))
    fd_trace = (energies[0] - energies[1]) / (2 * FD_STRAIN) / cell.volume / GPa
    assert abs(np.trace(stress)) > 3.0
    assert fd_trace == pytest.approx(np.trace(stress), rel=0.02), (fd_trace, stress)
