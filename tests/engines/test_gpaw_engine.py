"""GpawEngine around a patched run: documents, conversions, failures (no GPAW needed)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from ase.units import GPa
from gpaw_engine import FakeRun
from pymatgen.core import Lattice, Structure

from pesbench.engines.base import DFTEngine, get_engine
from pesbench.engines.gpaw import GpawEngine
from pesbench.engines.gpaw import engine as engine_module
from pesbench.engines.gpaw import run as run_module
from pesbench.engines.gpaw.engine import stress_to_gpa
from pesbench.schemas.ids import structure_id
from pesbench.schemas.reference import hash_inputs
from pesbench.settings import PesbenchSettings


@pytest.fixture
def si2() -> Structure:
    return Structure(Lattice.cubic(5.43), ["Si", "Si"], [[0, 0, 0], [0.26, 0.25, 0.25]])


def test_get_engine_builds_it() -> None:
    engine = get_engine("gpaw", PesbenchSettings(dft_cores=1))
    assert isinstance(engine, GpawEngine)
    assert isinstance(engine, DFTEngine)
    assert engine.name == "gpaw"


def test_success_is_converted_to_project_units(
    si2: Structure, tmp_path: Path, available: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    forces = [[0.1, -0.2, 0.3], [-0.1, 0.2, -0.3]]
    voigt = [0.01, 0.02, 0.03, 0.004, 0.005, 0.006]  # eV/Å³
    fake = FakeRun(
        {
            "status": "success",
            "converged": True,
            "free_energy": -10.5,
            "energy": -10.49,
            "forces": forces,
            "stress_voigt": voigt,
            "gpaw_version": "26.7.0",
            "libxc_version": "5.2.3",
        }
    )
    monkeypatch.setattr(run_module, "run_gpaw", fake)
    engine = GpawEngine(PesbenchSettings(dft_cores=3))
    doc = engine.compute(si2, "r2SCAN", tmp_path / "run", overrides={"ecut": 300})

    assert doc.status == "success", doc.failure_reason
    assert doc.code == "gpaw"
    assert doc.code_version == "26.7.0, libxc 5.2.3"
    assert doc.energy == -10.5
    assert doc.energy_per_atom == pytest.approx(-5.25)
    assert doc.forces == forces
    stress = np.asarray(doc.stress)
    assert stress[0, 0] == pytest.approx(0.01 / GPa)  # ~1.6 GPa, tensile stays positive
    assert stress[0, 1] == stress[1, 0] == pytest.approx(0.006 / GPa)
    assert stress[1, 2] == pytest.approx(0.004 / GPa)
    assert doc.converged_electronic is True
    assert doc.structure_id == structure_id(si2)
    assert doc.input_settings == engine.input_settings(si2, "r2SCAN", {"ecut": 300})
    assert doc.input_hash == hash_inputs(doc.input_settings)
    assert doc.reference_id.startswith(structure_id(si2) + ":r2SCAN:")
    assert doc.run_dir is not None
    assert doc.run_dir.endswith(str((tmp_path / "run").resolve()))
    assert doc.wall_time_s is not None

    command = fake.calls[0]
    assert command[command.index("-n") + 1] == "3"
    assert command[-1] == str((tmp_path / "run").resolve())
    assert command[-2].endswith("worker.py")
    assert fake.env["GPAW_MPI_BACKEND"] == "cgpaw"
    assert fake.env["OMP_NUM_THREADS"] == "1"
    assert "OMPI_MCA_rmaps_base_oversubscribe" in fake.env  # Open MPI: threads as slots
    assert ("--allow-run-as-root" in command) == (
        os.geteuid() == 0 and run_module.is_openmpi(str(run_module.shutil.which("mpiexec")))
    )
    assert fake.inputs["parameters"]["xc"] == "MGGA_X_R2SCAN+MGGA_C_R2SCAN"
    assert fake.inputs["atoms"]["numbers"] == [14, 14]
    assert Structure.from_dict(fake.inputs["structure"]) == si2


def test_scf_failure_is_a_failed_document(
    si2: Structure, tmp_path: Path, available: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeRun({"status": "failed", "converged": False, "reason": "SCF not converged"})
    monkeypatch.setattr(run_module, "run_gpaw", fake)
    doc = GpawEngine(PesbenchSettings(dft_cores=1)).compute(si2, "PBE", tmp_path)
    assert doc.status == "failed"
    assert doc.failure_reason == "SCF not converged"
    assert doc.converged_electronic is False
    assert doc.energy is None
    assert doc.forces is None


def test_crash_reports_the_last_error_line(
    si2: Structure, tmp_path: Path, available: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeRun(None, code=134, log="iter 1\nMemoryError: out of memory\ntrailing\n")
    monkeypatch.setattr(run_module, "run_gpaw", fake)
    doc = GpawEngine(PesbenchSettings(dft_cores=1)).compute(si2, "PBE", tmp_path)
    assert doc.status == "failed"
    assert doc.failure_reason == "GPAW exited with code 134: MemoryError: out of memory"
    assert "\n" not in doc.failure_reason
    assert (tmp_path / "gpaw.txt").exists()  # the log is kept


def test_missing_dataset_fails_before_running(
    tmp_path: Path, available: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeRun(None)
    monkeypatch.setattr(run_module, "run_gpaw", fake)
    usi = Structure(Lattice.cubic(4.0), ["U", "Si"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    doc = GpawEngine(PesbenchSettings(dft_cores=1)).compute(usi, "PBE", tmp_path)
    assert doc.status == "failed"
    assert doc.failure_reason == "no GPAW PAW dataset for U"
    assert fake.calls == []
    assert json.loads((tmp_path / "results.json").read_text())["reason"] == doc.failure_reason


def test_unusable_engine_fails_with_its_reason(
    si2: Structure, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeRun(None)
    monkeypatch.setattr(run_module, "run_gpaw", fake)
    engine = GpawEngine(PesbenchSettings(mpi_command="no-such-mpiexec-xyz -n {cores}"))
    reason = engine.unavailable_reason()
    assert reason is not None
    assert "no-such-mpiexec-xyz" in reason or "GPAW" in reason
    doc = engine.compute(si2, "PBE", tmp_path)
    assert doc.status == "failed"
    assert doc.failure_reason == reason
    assert fake.calls == []


def test_run_gpaw_reports_a_missing_executable(tmp_path: Path) -> None:
    code = run_module.run_gpaw(["no-such-program-xyz"], tmp_path, dict(os.environ))
    assert code == 127
    assert "no-such-program-xyz" in (tmp_path / "gpaw-stdout.txt").read_text()


def test_stress_conversion_keeps_the_sign() -> None:
    full = np.asarray(stress_to_gpa([-GPa, 0, 0, 0, 0, 0]))
    assert full[0, 0] == pytest.approx(-1.0)
    assert np.allclose(full, full.T)


def test_engine_module_does_not_import_gpaw() -> None:
    """GPAW runs in the engine's MPI subprocess only; importing the engine must not load it."""
    import importlib.util
    import subprocess
    import sys

    assert importlib.util.find_spec("gpaw") is not None  # installed: the check means something

    def gpaw_modules(module: str) -> list[str]:
        code = (
            f"import sys, {module}\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('gpaw', '_gpaw')))"
        )
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        return eval(run.stdout)  # a printed list of str

    # ase.io registers external formats by importing gpaw.ase_plugin (an entry point) for
    # anyone who imports it: the engine must add nothing (no calculator, no C code, no MPI)
    assert gpaw_modules(engine_module.__name__) == gpaw_modules("ase.io")
    assert "_gpaw" not in gpaw_modules(engine_module.__name__)
