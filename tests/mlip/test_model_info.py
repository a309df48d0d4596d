"""``model_info``: a model's identity and checksum without a forward pass, cached."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pesbench.mlip import load_model, model_info, registry
from pesbench.mlip.ase import ASEPredictor
from pesbench.mlip.base import Predictor
from pesbench.mlip.mace import MACEPredictor
from pesbench.settings import override_settings
from pesbench.testing.models import build_tiny_mace

EMT_MODEL = "ase:ase.calculators.emt.EMT"


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("model_info ran the model")


@pytest.fixture
def no_forward_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any sanity check or forward pass fails the test."""
    monkeypatch.setattr(registry, "sanity_check", _refuse)
    monkeypatch.setattr(Predictor, "predict", _refuse)
    monkeypatch.setattr(ASEPredictor, "_forward", _refuse)
    monkeypatch.setattr(MACEPredictor, "_forward", _refuse)


def test_model_info_matches_load_model_without_running_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kwargs = {"asap_cutoff": True}
    with override_settings(data_dir=tmp_path):
        plain = load_model(EMT_MODEL).info
        other = load_model(EMT_MODEL, calculator_kwargs=kwargs).info
        monkeypatch.setattr(registry, "sanity_check", _refuse)
        monkeypatch.setattr(ASEPredictor, "_forward", _refuse)
        assert model_info(EMT_MODEL) == plain
        assert model_info(EMT_MODEL, calculator_kwargs=kwargs) == other
        assert other.checksum != plain.checksum  # the kwargs are part of the model
        assert model_info(EMT_MODEL, functional="r2SCAN").functional == "r2SCAN"


def test_model_info_loads_once_per_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_forward_pass: None
) -> None:
    loads: list[str] = []
    original = registry.load_ase

    def counting(spec: Any, *args: Any) -> ASEPredictor:
        loads.append(spec.model_id)
        return original(spec, *args)

    monkeypatch.setattr(registry, "load_ase", counting)
    with override_settings(data_dir=tmp_path) as settings:
        first = model_info(EMT_MODEL)
        first.checksum = "changed by the caller"
        assert model_info(EMT_MODEL, settings=settings).checksum != first.checksum  # a copy
    assert loads == [EMT_MODEL]


def test_model_info_of_a_model_file_follows_the_file(tmp_path: Path, no_forward_pass: None) -> None:
    path = build_tiny_mace(tmp_path / "tiny.model", seed=0)
    with override_settings(model_dir=tmp_path, data_dir=tmp_path, device="cpu"):
        first = model_info("mace-tiny")
        assert first.checksum == load_model("mace-tiny", check=False).info.checksum
        assert model_info("mace-tiny") == first
        build_tiny_mace(path, seed=1)  # replaced while the process runs
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
        assert model_info("mace-tiny").checksum != first.checksum


def test_a_worker_loads_each_model_once() -> None:
    from pesbench.mlip import worker_model
    from pesbench.mlip.registry import WORKER_MODELS

    emt = "ase:ase.calculators.emt.EMT"
    first = worker_model(emt, device="cpu")
    assert worker_model(emt, device="cpu") is first  # the next job reuses it
    scaled = "ase:pesbench.testing.emt.ScaledEMT"
    others = [worker_model(scaled, device="cpu", calculator_kwargs={"scale": 0.5 + k / 10})
              for k in range(WORKER_MODELS)]  # fmt: skip
    assert len({id(p) for p in others}) == WORKER_MODELS  # other kwargs: other models
    assert worker_model(emt, device="cpu") is not first  # evicted: least recently used
