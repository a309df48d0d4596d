"""GpawEngine.relax: inputs, parsing and failures around a patched run; the worker's relax
mode in process on a fake GPAW; and GPAW for real (an SCF failure; slow: Si2 relaxations)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.units import GPa
from gpaw_engine import FakeRun, usable_gpaw
from pymatgen.core import Lattice, Structure

from pesbench.engines.base import EngineError
from pesbench.engines.gpaw import GpawEngine, worker
from pesbench.engines.gpaw import run as run_module
from pesbench.engines.gpaw.engine import outcome_from_results
from pesbench.engines.gpaw.inputs import DEFAULT_KSPACING, kpoint_mesh
from pesbench.engines.gpaw.run import default_cores
from pesbench.properties.sides import EngineSide
from pesbench.schemas.reference import hash_inputs
from pesbench.schemas.relaxation import RelaxSettings
from pesbench.settings import PesbenchSettings

FAST = {"ecut": 250, "kpts": [2, 2, 2]}
"""Cheap GPAW settings for the real runs (Si2: a few seconds per step on 2 cores)."""
FCC = np.array([[0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]])


def si2(a: float = 5.43, x: float = 0.25) -> Structure:
    """Diamond Si in its 2-atom primitive cell; ``x`` != 0.25 displaces the second atom."""
    return Structure(Lattice(FCC * a), ["Si", "Si"], [[0, 0, 0], [x, 0.25, 0.25]])


def worker_results(n_frames: int = 3, **fields: Any) -> dict[str, Any]:
    """What the worker writes after a relaxation of si2() (ASE units)."""
    rng = np.random.default_rng(0)
    outcome = {
        "converged": True,
        "n_steps": n_frames - 1,
        "reason": None,
        "energies": [-10.0 - 0.1 * i for i in range(n_frames)],
        "forces": [rng.normal(size=(2, 3)).tolist() for _ in range(n_frames)],
        "stresses": [(np.eye(3) * 0.01 * (i + 1)).tolist() for i in range(n_frames)],
        "cells": [(FCC * 5.43).tolist()] * n_frames,
        "positions": [si2().cart_coords.tolist()] * n_frames,
        "max_force": 0.01,
        "seconds": 1.0,
    }
    return {
        "status": "success",
        "reason": None,
        "mode": "relax",
        "converged": True,
        "outcome": outcome,
        "scf_iterations": [12, 8, 7][:n_frames],
        "gpaw_version": "26.7.0",
        "libxc_version": "5.2.3",
        **fields,
    }


def resolved(**fields: Any) -> RelaxSettings:
    return RelaxSettings(**{"fmax": 0.05, "max_steps": 20, **fields})


def test_relax_writes_relax_inputs_and_returns_the_outcome(
    tmp_path: Path, available: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeRun(worker_results())
    monkeypatch.setattr(run_module, "run_gpaw", fake)
    engine = GpawEngine(PesbenchSettings(dft_cores=2))
    settings = resolved(relax_cell=True, fix_indices=(1,), max_steps=7, optimizer="FIRE")
    outcome = engine.relax(si2(), "PBE", tmp_path / "run", settings=settings, overrides=None)

    assert fake.inputs["mode"] == "relax"
    assert fake.inputs["relax"] == settings.model_dump(mode="json")
    assert fake.inputs["input_settings"] == engine.input_settings(si2(), "PBE")
    assert fake.inputs["parameters"]["kpts"]["size"] == kpoint_mesh(si2(), DEFAULT_KSPACING)
    assert fake.inputs["magmoms"] is None
    assert fake.calls[0][-1] == str((tmp_path / "run").resolve())
    assert fake.calls[0][-2].endswith("worker.py")

    expected = worker_results()["outcome"]
    assert outcome.converged is True
    assert outcome.reason is None
    assert outcome.n_steps == 2
    assert outcome.energies == expected["energies"]
    assert outcome.forces == expected["forces"]
    assert outcome.stresses == expected["stresses"]  # ASE units: EngineSide converts
    assert outcome.cells == expected["cells"]
    assert outcome.max_force == 0.01
    assert outcome.seconds > 0  # the engine's wall time, MPI start included
    assert outcome.seconds != 1.0


def test_scf_failure_keeps_the_frames_before_it(
    tmp_path: Path, available: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reason = "SCF not converged in 200 iterations at optimizer step 2"
    results = worker_results(2, status="failed", reason=reason, converged=False)
    results["outcome"].update(converged=False, n_steps=2, reason=reason)
    monkeypatch.setattr(run_module, "run_gpaw", FakeRun(results))
    outcome = GpawEngine(PesbenchSettings(dft_cores=1)).relax(
        si2(), "PBE", tmp_path, settings=resolved()
    )
    assert outcome.converged is False
    assert outcome.reason == reason
    assert outcome.n_steps == 2
    assert len(outcome.energies) == len(outcome.forces) == len(outcome.positions) == 2


@pytest.mark.parametrize(
    ("results", "code", "reason"),
    [
        (None, 134, "GPAW exited with code 134: MemoryError: out of memory"),
        (
            {"status": "failed", "reason": "GPAW cannot be imported: x"},
            1,
            "GPAW cannot be imported: x",
        ),
        ({"status": "failed", "reason": "ValueError: bad\nsecond line"}, 1, "ValueError: bad"),
    ],
)
def test_runs_without_frames_fail_with_one_line(
    tmp_path: Path,
    available: Path,
    monkeypatch: pytest.MonkeyPatch,
    results: dict[str, Any] | None,
    code: int,
    reason: str,
) -> None:
    fake = FakeRun(results, code=code, log="iter 1\nMemoryError: out of memory\n")
    monkeypatch.setattr(run_module, "run_gpaw", fake)
    outcome = GpawEngine(PesbenchSettings(dft_cores=1)).relax(
        si2(), "PBE", tmp_path, settings=resolved()
    )
    assert outcome.converged is False
    assert outcome.reason == reason
    assert outcome.energies == []
    assert outcome.n_steps == 0


def test_an_exit_code_after_success_fails_but_keeps_the_frames(
    tmp_path: Path, available: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_module, "run_gpaw", FakeRun(worker_results(), code=1))
    outcome = GpawEngine(PesbenchSettings(dft_cores=1)).relax(
        si2(), "PBE", tmp_path, settings=resolved()
    )
    assert outcome.converged is False
    assert outcome.reason == "GPAW exited with code 1"
    assert len(outcome.energies) == 3


def test_malformed_frames_are_a_failure() -> None:
    results = worker_results()
    results["outcome"]["forces"][1] = [[0.0, 0.0, 0.0]]  # one atom of two
    outcome = outcome_from_results(results, n_atoms=2)
    assert outcome.converged is False
    assert outcome.reason == "malformed relaxation results"
    assert outcome.energies == []
    results = worker_results()
    results["outcome"]["energies"][0] = float("nan")
    assert outcome_from_results(results, 2).reason == "malformed relaxation results"
    assert outcome_from_results({"status": "success"}, 2).reason == "malformed relaxation results"
    assert outcome_from_results(worker_results(), n_atoms=2).converged is True


def test_bad_requests_raise_before_running(
    tmp_path: Path, available: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeRun(worker_results())
    monkeypatch.setattr(run_module, "run_gpaw", fake)
    engine = GpawEngine(PesbenchSettings(dft_cores=1))
    with pytest.raises(ValueError, match="resolved settings"):
        engine.relax(si2(), "PBE", tmp_path, settings=RelaxSettings())
    with pytest.raises(ValueError, match="out of range"):
        engine.relax(si2(), "PBE", tmp_path, settings=resolved(fix_indices=(2,)))
    with pytest.raises(ValueError, match="unknown GPAW override"):
        engine.relax(si2(), "PBE", tmp_path, settings=resolved(), overrides={"encut": 300})
    assert fake.calls == []


def test_missing_dataset_fails_before_running(
    tmp_path: Path, available: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeRun(None)
    monkeypatch.setattr(run_module, "run_gpaw", fake)
    usi = Structure(Lattice(FCC * 4.21), ["U", "Si"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    outcome = GpawEngine(PesbenchSettings(dft_cores=1)).relax(
        usi, "PBE", tmp_path, settings=resolved()
    )
    assert outcome.reason == "no GPAW PAW dataset for U"
    assert outcome.converged is False
    assert fake.calls == []


def test_engine_side_documents_the_relaxation_and_open_shell_runs_spin_polarised(
    tmp_path: Path, available: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeRun(worker_results())
    monkeypatch.setattr(run_module, "run_gpaw", fake)
    settings = PesbenchSettings(dft_cores=1, relax_fmax=0.03, relax_steps=40)
    engine = GpawEngine(settings)
    side = EngineSide(engine, "PBE", overrides=FAST, workdir=tmp_path, settings=settings)
    doc = side.relax(si2(), RelaxSettings())

    assert doc.status == "success", doc.failure_reason
    assert len(fake.calls) == 1
    assert fake.inputs["relax"]["fmax"] == doc.settings.fmax == 0.03
    assert fake.inputs["relax"]["max_steps"] == doc.settings.max_steps == 40
    assert doc.side == "PBE (gpaw)"
    assert doc.energy == -10.2
    assert len(doc.frames) == 3
    assert doc.stress is not None
    assert doc.stress[0][0] == pytest.approx(0.03 / GPa)  # eV/Å³ -> GPa, tensile positive
    assert doc.input_settings == engine.input_settings(si2(), "PBE", FAST)
    assert doc.input_hash == hash_inputs(doc.input_settings)
    assert fake.inputs["parameters"]["spinpol"] is False

    spin = side.open_shell().relax(si2(), RelaxSettings(relax_cell=True))
    assert spin.status == "success"
    # a cell relaxation, then a single point of the relaxed cell
    assert len(fake.calls) == 3
    assert fake.inputs["relax"]["max_steps"] == 0
    assert spin.final_single_point
    assert fake.inputs["parameters"]["spinpol"] is True
    assert fake.inputs["magmoms"] == [0.6, 0.6]
    assert spin.input_hash != doc.input_hash
    assert spin.relaxation_id != doc.relaxation_id


def test_an_engine_without_relax_is_refused() -> None:
    class StaticOnly:
        name = "static-only"

    with pytest.raises(EngineError, match="cannot relax"):
        EngineSide(StaticOnly(), "PBE")  # type: ignore[arg-type]


class FakeGpaw:
    """GPAW's calculator interface over EMT: free energy = EMT, the zero-smearing
    extrapolation 0.1 eV below it; its ``fail_at``-th evaluation does not converge."""

    def __init__(self, fail_at: int | None = None, **parameters: Any) -> None:
        self.fail_at = fail_at
        self.parameters = parameters
        self.evaluations = 0
        self.emt = EMT()

    def _work(self, atoms: Atoms) -> Atoms:
        work = atoms.copy()
        work.set_constraint()
        work.calc = self.emt
        return work

    def get_potential_energy(self, atoms: Atoms, force_consistent: bool = False) -> float:
        from gpaw import KohnShamConvergenceError

        self.evaluations += 1
        if self.evaluations == self.fail_at:
            raise KohnShamConvergenceError("Did not converge!")
        energy = float(self._work(atoms).get_potential_energy())
        return energy if force_consistent else energy - 0.1

    def get_forces(self, atoms: Atoms) -> np.ndarray:
        return np.asarray(self._work(atoms).get_forces())

    def get_stress(self, atoms: Atoms) -> np.ndarray:
        return np.asarray(self._work(atoms).get_stress())

    def get_magnetic_moments(self) -> np.ndarray:
        return np.zeros(2)


def write_worker_inputs(run_dir: Path, atoms: Atoms, settings: RelaxSettings) -> None:
    cell = {
        "numbers": atoms.numbers.tolist(),
        "positions": atoms.positions.tolist(),
        "cell": atoms.cell.tolist(),
    }
    inputs = {
        "mode": "relax",
        "relax": settings.model_dump(mode="json"),
        "parameters": {"maxiter": 9, "spinpol": False},
        "magmoms": None,
        "atoms": cell,
    }
    (run_dir / "inputs.json").write_text(json.dumps(inputs))


@pytest.mark.parametrize("fail_at", [None, 3, 1])
def test_worker_relaxes_on_free_energies_and_keeps_frames_when_an_scf_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_at: int | None
) -> None:
    gpaw = pytest.importorskip("gpaw")
    monkeypatch.setattr(gpaw, "GPAW", lambda **kw: FakeGpaw(fail_at, **kw))
    atoms = bulk("Cu", "fcc", a=3.7, cubic=True)[:2]
    atoms.positions[1] += [0.1, 0.0, 0.0]
    write_worker_inputs(tmp_path, atoms, resolved(fmax=0.01, max_steps=50, fix_indices=(0,)))

    assert worker.main(tmp_path) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    frames = results["outcome"]["energies"]
    start = atoms.copy()
    start.calc = EMT()
    if fail_at is None:
        assert results["status"] == "success"
        assert results["outcome"]["converged"] is True
        assert frames[0] == pytest.approx(start.get_potential_energy())  # free energy
        assert frames[-1] < frames[0]
        assert np.allclose(results["outcome"]["positions"][-1][0], atoms.positions[0])  # fixed
        return
    assert results["status"] == "failed"
    where = "optimizer step 2" if fail_at == 3 else "the initial structure"
    assert results["reason"] == f"SCF not converged in 9 iterations at {where}"
    assert len(frames) == fail_at - 1
    outcome = outcome_from_results(results, n_atoms=2)
    assert outcome.converged is False
    assert outcome.reason == results["reason"]
    assert len(outcome.stresses) == len(outcome.cells) == fail_at - 1
    assert outcome.n_steps == fail_at - 1
    if frames:
        assert frames[0] == pytest.approx(start.get_potential_energy())
        assert np.shape(outcome.stresses[0]) == (3, 3)


CORES = min(2, default_cores())


@pytest.fixture(scope="module")
def engine() -> GpawEngine:
    return usable_gpaw(PesbenchSettings(dft_cores=CORES))


def test_real_scf_failure_is_a_failed_outcome(engine: GpawEngine, tmp_path: Path) -> None:
    outcome = engine.relax(
        si2(x=0.27), "PBE", tmp_path, settings=resolved(), overrides={**FAST, "maxiter": 2}
    )
    assert outcome.converged is False
    assert outcome.reason == "SCF not converged in 2 iterations at the initial structure"
    assert outcome.energies == []


@pytest.mark.slow
def test_si2_relaxes_cell_and_positions_through_the_engine_side(
    engine: GpawEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcomes = []
    relax = engine.relax

    def spy(*args: Any, **kwargs: Any) -> Any:
        outcomes.append(relax(*args, **kwargs))
        return outcomes[-1]

    monkeypatch.setattr(engine, "relax", spy)
    side = EngineSide(engine, "PBE", overrides=FAST, workdir=tmp_path, settings=engine.settings)
    fmax = 0.05
    compressed = si2(a=5.43 * 0.97)  # this cheap basis prefers a = 5.6 Å
    cell = side.relax(compressed, RelaxSettings(relax_cell=True, fmax=fmax, max_steps=30))
    displaced = si2(x=0.28)
    positions = side.relax(displaced, RelaxSettings(fmax=fmax, max_steps=30))

    assert cell.final_single_point  # a cell relaxation ends with a single point
    assert [o.n_steps > 0 for o in outcomes] == [True, False, True]
    del outcomes[1]
    for doc, outcome in zip((cell, positions), outcomes, strict=True):
        assert doc.status == "success", doc.failure_reason
        assert doc.converged is True
        assert outcome.converged is True
        assert doc.n_steps >= 2
        assert len(doc.frames) == doc.n_steps + 1
        assert doc.frames.energies == outcome.energies
        assert doc.energy is not None
        assert doc.energy < doc.frames.energies[0] - 1e-3
        assert doc.max_force is not None
        assert doc.max_force < fmax
        assert np.linalg.norm(np.asarray(doc.forces), axis=1).max() < fmax
        assert doc.final_structure is not None
        run_dir = Path(str(doc.run_dir).split(":", 1)[1])
        results = json.loads((run_dir / "results.json").read_text())
        assert len(results["scf_iterations"]) == len(doc.frames)
        assert min(results["scf_iterations"][1:]) < results["scf_iterations"][0]  # reused
    assert cell.final_structure.volume > compressed.volume * 1.05
    assert np.abs(np.asarray(cell.stress)).max() < 1.0  # GPa
    cell_log = Path(str(cell.run_dir).split(":", 1)[1]) / "gpaw.txt"
    assert "Interpolating wave functions to new cell" in cell_log.read_text()  # not from scratch
    assert positions.final_structure.volume == pytest.approx(displaced.volume)
    bond = positions.final_structure.get_distance(0, 1)
    assert bond == pytest.approx(5.43 * np.sqrt(3) / 4, abs=0.02)  # back to the diamond site
