"""r2SCAN started from the PBE run (``prev_dir``): the engine's plan (no GPAW), a campaign's
plan with the GGA reference stored before, and GPAW for real on a 2-atom cell, warm
against cold."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from campaigns import emt_campaign
from gpaw_engine import FakeRun, usable_gpaw
from jobflow import OutputReference
from pymatgen.core import Lattice, Structure

from pesbench.engines.base import get_engine
from pesbench.engines.gpaw import GpawEngine
from pesbench.engines.gpaw import run as run_module
from pesbench.engines.gpaw.run import default_cores
from pesbench.makers.base import store_now
from pesbench.schemas.reference import ReferenceDoc
from pesbench.settings import PesbenchSettings
from pesbench.stores.references import ReferenceStore
from pesbench.structures.registry import generate
from pesbench.workflows.campaign import CampaignFlowMaker, _plan_references
from pesbench.workflows.spec import load_spec

CORES = min(2, default_cores())
FAST = {"ecut": 250, "kpts": [2, 2, 2]}
PBE_OK = {
    "status": "success",
    "converged": True,
    "free_energy": -10.0,
    "energy": -10.0,
    "forces": [[0.0, 0.0, 0.1], [0.0, 0.0, -0.1]],
    "stress_voigt": [0.0] * 6,
    "state": "gpaw.gpw",
}


def si2(dx: float = 0.0) -> Structure:
    return Structure(Lattice.cubic(5.43), ["Si", "Si"], [[0, 0, 0], [0.27 + dx, 0.25, 0.24]])


def fake_pbe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, overrides: dict
) -> tuple[Path, ReferenceDoc]:
    """A PBE run folder as the worker leaves it (state file included), without GPAW."""
    monkeypatch.setattr(run_module, "run_gpaw", FakeRun(PBE_OK))
    run_dir = tmp_path / "pbe"
    engine = GpawEngine(PesbenchSettings(dft_cores=1))
    doc = engine.compute(si2(), "PBE", run_dir, overrides=overrides)
    assert doc.status == "success"
    (run_dir / "gpaw.gpw").write_bytes(b"state")
    return run_dir, doc


@pytest.mark.parametrize(
    ("structure", "overrides", "reason"),
    [
        (si2(), {**FAST, "kpts": [3, 3, 3]}, "settings differ: kpts"),
        (si2(), {**FAST, "ecut": 300}, "settings differ: ecut_eV"),
        (si2(dx=0.01), FAST, "positions differ"),
    ],
)
def test_a_different_run_is_not_a_start(
    tmp_path: Path,
    available: Path,
    monkeypatch: pytest.MonkeyPatch,
    structure: Structure,
    overrides: dict,
    reason: str,
) -> None:
    prev, _ = fake_pbe(tmp_path, monkeypatch, FAST)
    fake = FakeRun({**PBE_OK, "state": None})
    monkeypatch.setattr(run_module, "run_gpaw", fake)
    engine = GpawEngine(PesbenchSettings(dft_cores=1))
    doc = engine.compute(structure, "r2SCAN", tmp_path / "r2", prev_dir=prev, overrides=overrides)
    assert fake.inputs["start_from"] is None
    assert reason in fake.inputs["start"]["reason"]
    assert fake.inputs["write_state"] is False  # r2SCAN leaves no state
    assert doc.parent_reference_id is None


def test_a_matching_pbe_run_is_the_start_and_the_parent(
    tmp_path: Path, available: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prev, pbe = fake_pbe(tmp_path, monkeypatch, FAST)
    pbe_inputs = json.loads((prev / "inputs.json").read_text())
    assert pbe_inputs["write_state"] is True
    fake = FakeRun({**PBE_OK, "state": None, "start": {"used": True}})
    monkeypatch.setattr(run_module, "run_gpaw", fake)
    engine = GpawEngine(PesbenchSettings(dft_cores=1))
    doc = engine.compute(si2(), "r2SCAN", tmp_path / "r2", prev_dir=prev, overrides=FAST)
    assert fake.inputs["start_from"] == str((prev / "gpaw.gpw").resolve())
    assert fake.inputs["start"]["reason"] is None
    assert doc.parent_reference_id == pbe.reference_id

    # the worker could not use the file: a cold start, and no parent
    monkeypatch.setattr(run_module, "run_gpaw", FakeRun({**PBE_OK, "start": {"used": False}}))
    cold = engine.compute(si2(), "r2SCAN", tmp_path / "r2b", prev_dir=prev, overrides=FAST)
    assert cold.parent_reference_id is None


def test_a_failed_or_stateless_pbe_run_is_not_a_start(
    tmp_path: Path, available: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prev, _ = fake_pbe(tmp_path, monkeypatch, FAST)
    (prev / "gpaw.gpw").unlink()
    fake = FakeRun(PBE_OK)
    monkeypatch.setattr(run_module, "run_gpaw", fake)
    engine = GpawEngine(PesbenchSettings(dft_cores=1))
    engine.compute(si2(), "r2SCAN", tmp_path / "r2", prev_dir=prev, overrides=FAST)
    assert "left no gpaw.gpw" in fake.inputs["start"]["reason"]
    engine.compute(si2(), "r2SCAN", tmp_path / "r3", prev_dir=tmp_path / "nowhere", overrides=FAST)
    assert "no previous GPAW run" in fake.inputs["start"]["reason"]
    (prev / "gpaw.gpw").write_bytes(b"state")
    (prev / "results.json").write_text(json.dumps({"status": "failed"}))
    engine.compute(si2(), "r2SCAN", tmp_path / "r4", prev_dir=prev, overrides=FAST)
    assert "not a successful single point" in fake.inputs["start"]["reason"]


def test_pbe_u_writes_no_state(
    tmp_path: Path, available: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeRun(PBE_OK)
    monkeypatch.setattr(run_module, "run_gpaw", fake)
    engine = GpawEngine(PesbenchSettings(dft_cores=1))
    engine.compute(si2(), "PBE+U", tmp_path / "u", overrides={**FAST, "hubbard_u": {"Si": 2.0}})
    assert fake.inputs["write_state"] is False


@pytest.mark.slow
def test_r2scan_from_pbe_agrees_with_a_cold_start_in_fewer_iterations(tmp_path: Path) -> None:
    """GPAW for real: PBE, then r2SCAN cold and warm on the same 2-atom cell (about 90 s
    on 2 shared cores: slow)."""
    engine = usable_gpaw(PesbenchSettings(dft_cores=CORES))
    pbe = engine.compute(si2(), "PBE", tmp_path / "pbe", overrides=FAST)
    assert pbe.status == "success", pbe.failure_reason
    assert (tmp_path / "pbe" / "gpaw.gpw").is_file()
    cold = engine.compute(si2(), "r2SCAN", tmp_path / "cold", overrides=FAST)
    warm = engine.compute(
        si2(), "r2SCAN", tmp_path / "warm", prev_dir=tmp_path / "pbe", overrides=FAST
    )
    assert cold.status == warm.status == "success", (cold.failure_reason, warm.failure_reason)
    assert warm.parent_reference_id == pbe.reference_id
    assert cold.parent_reference_id is None
    assert warm.reference_id == cold.reference_id  # the same reference, however it started
    results = {k: json.loads((tmp_path / k / "results.json").read_text()) for k in ("cold", "warm")}
    assert results["warm"]["start"]["used"] is True, results["warm"]["start"]
    assert not (tmp_path / "warm" / "gpaw.gpw").exists()
    assert cold.energy is not None
    assert warm.energy is not None
    # SCF criteria: 1e-6 eV per valence electron (8 here) between iterations, forces 1e-3 eV/Å
    assert abs(warm.energy - cold.energy) < 1e-4
    assert np.abs(np.subtract(warm.forces, cold.forces)).max() < 1e-3
    assert np.abs(np.subtract(warm.stress, cold.stress)).max() < 1e-2  # GPa
    assert abs(warm.energy - pbe.energy) > 1.0  # r2SCAN's own energy, not PBE's
    assert results["warm"]["niter"] < results["cold"]["niter"]


def test_a_campaign_starts_r2scan_from_a_stored_gga_run(
    db_settings: PesbenchSettings, tmp_path: Path
) -> None:
    """GGA stored by an earlier run, r2SCAN still to do: the plan passes the GGA run's folder;
    both to do: r2SCAN chains from the GGA job of its flow (EMT fake engine, no jobs run)."""
    spec = load_spec(emt_campaign(tmp_path))
    bulk = Structure.from_file(str(tmp_path / "Cu.cif"))
    docs = generate(bulk, "high_energy", spec.categories["high_energy"]).structures[:2]
    maker = CampaignFlowMaker().reference_flow_maker(spec)
    engine = get_engine(maker.gga_maker.engine, db_settings)
    pbe = engine.compute(docs[0].structure, "PBE", tmp_path / "pbe")
    assert store_now(ReferenceStore, [pbe])

    work = _plan_references(maker, docs, spec, False, db_settings)
    assert (work.new, work.reused) == (3, 1)
    first, second = work.jobs
    (alone,) = first.jobs
    assert alone.name.endswith(docs[0].structure_id)
    assert alone.maker.functional == "r2SCAN"
    assert alone.function_kwargs["prev_dir"] == pbe.run_dir
    gga, r2scan = second.jobs
    assert isinstance(r2scan.function_kwargs["prev_dir"], OutputReference)
    assert r2scan.function_kwargs["prev_dir"].uuid == gga.uuid
