"""The shared machinery: batching by atoms, screening, fallback, ids, devices."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from pesbench.errors import PesbenchError
from pesbench.mlip import Predictor, UnknownModelError, batches_by_atoms, parse_model_id
from pesbench.mlip.base import RawResult, select_device
from pesbench.mlip.ids import functional_of
from pesbench.schemas.prediction import ModelInfo

INFO = ModelInfo(model_id="fake-1", name="fake", version="1", checksum="0" * 16, functional="PBE")


class FakePredictor(Predictor):
    """Energy -1 eV/atom; raises on Cl in a batch; returns NaN for Ar."""

    def __init__(self) -> None:
        super().__init__(INFO, "cpu", frozenset({"Na", "Cl", "Ar"}))
        self.passes: list[int] = []

    def _forward(self, structures: Sequence[Structure]) -> list[RawResult]:
        self.passes.append(len(structures))
        if any("Cl" in s.composition for s in structures):
            raise RuntimeError("cannot do Cl")
        return [
            RawResult(
                energy=np.nan if "Ar" in s.composition else -1.0 * len(s),
                forces=np.zeros((len(s), 3)),
                stress=np.zeros((3, 3)),
            )
            for s in structures
        ]


def cell(species: list[str]) -> Structure:
    coords = [[i / len(species), 0, 0] for i in range(len(species))]
    return Structure(Lattice.cubic(3.0 * len(species)), species, coords)


def test_batches_respect_the_atom_budget() -> None:
    assert list(batches_by_atoms([4, 4, 4, 10, 1], 8)) == [[0, 1], [2], [3], [4]]
    assert list(batches_by_atoms([4, 4], 0)) == [[0], [1]]
    assert list(batches_by_atoms([], 8)) == []


def test_failures_are_per_structure_and_the_rest_is_predicted() -> None:
    structures = [cell(["Na"]), cell(["Na", "Cl"]), cell(["K"]), cell(["Ar"]), cell(["Na", "Na"])]
    predictor = FakePredictor()
    out = predictor.predict(structures, atom_budget=100)
    assert out.failures[0] is None
    assert out.energies[0] == -1.0
    assert out.failures[1] is not None
    assert "cannot do Cl" in out.failures[1]
    assert out.failures[2] is not None
    assert "K" in out.failures[2]
    assert "unknown" in out.failures[2]
    assert out.failures[3] == "non-finite energy predicted"
    assert out.energies[4] == -2.0
    assert out.forces[4] is not None
    assert out.n_failed == 3
    # one pass of four, then one by one to find the culprit
    assert predictor.passes == [4, 1, 1, 1, 1]
    assert out.batch_sizes == [1, 1, 1, 1, 1]


def test_batch_sizes_and_seconds_are_recorded() -> None:
    structures = [cell(["Na"]) for _ in range(5)]
    out = FakePredictor().predict(structures, atom_budget=2)
    assert out.batch_sizes == [2, 2, 2, 2, 1]
    assert all(s >= 0 for s in out.seconds)
    single = FakePredictor()
    single.predict(structures, batched=False)
    assert single.passes == [1] * 5


@pytest.mark.parametrize(
    ("model_id", "family", "name"),
    [
        ("chgnet-0.3.0", "chgnet", "0.3.0"),
        ("mace-mp-0-medium", "mace", "mp-0-medium"),
        ("matgl-M3GNet-MatPES-PBE-v2025.1-PES", "matgl", "M3GNet-MatPES-PBE-v2025.1-PES"),
        ("mace:/x/my.model", "mace", "my"),
        ("ase:ase.calculators.emt.EMT", "ase", "ase.calculators.emt.EMT"),
    ],
)
def test_model_id_grammar(model_id: str, family: str, name: str) -> None:
    spec = parse_model_id(model_id)
    assert (spec.family, spec.name) == (family, name)


@pytest.mark.parametrize("bad", ["gpt-4", "chgnet", "ase:EMT", "mace-", ""])
def test_unknown_ids_fail_with_the_grammar(bad: str) -> None:
    with pytest.raises(UnknownModelError, match="expected"):
        parse_model_id(bad)


def test_functional_from_the_name() -> None:
    assert functional_of(parse_model_id("chgnet-r2scan")) == "r2SCAN"
    assert functional_of(parse_model_id("matgl-TensorNet-MatPES-r2SCAN-v2025.1-PES")) == "r2SCAN"
    assert functional_of(parse_model_id("chgnet-0.3.0")) == "PBE"


def test_device_selection() -> None:
    assert select_device(device="cpu") == "cpu"
    with pytest.raises(PesbenchError, match="unknown device"):
        select_device(device="tpu")
