"""Which stored relaxation is a side's relaxed parent bulk (pure matching, no database)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymatgen.core import Lattice, Structure

from pesbench.engines.gpaw.inputs import gpaw_inputs
from pesbench.stores.relaxed_bulk import (
    RelaxedBulks,
    bulk_stamp,
    is_relaxed_bulk,
    matches_model,
    matches_reference,
)

NI = Structure(
    Lattice.cubic(3.52), ["Ni"] * 4, [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
)
MODEL = {"model_id": "chgnet-0.3.0", "checksum": "c0ffee"}


def _gpaw(structure: Structure, **overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = gpaw_inputs(structure, "PBE", overrides or None)["input_settings"]
    return settings


def _relaxation(rid: str, **changes: Any) -> dict[str, Any]:
    doc = {
        "relaxation_id": rid,
        "structure_id": "Ni-bulk",
        "status": "success",
        "side": "PBE (gpaw)",
        "side_kind": "dft",
        "side_key": "dft:gpaw:PBE:0123",
        "functional": "PBE",
        "settings": {"relax_cell": True, "fix_indices": [], "max_steps": 500, "fmax": 0.01},
        "input_settings": _gpaw(NI),
        "energy_per_atom": -5.5,
        "created_at": datetime(2026, 1, 1),
    }
    return doc | changes


def _reference(**overrides: Any) -> dict[str, Any]:
    supercell = NI * (2, 2, 2)  # another k-mesh and 32 initial moments
    return {"functional": "PBE", "code": "gpaw", "input_settings": _gpaw(supercell, **overrides)}


def test_dft_bulk_matches_code_functional_and_overrides_not_the_k_mesh() -> None:
    bulk = _relaxation("r")
    assert bulk["input_settings"]["kpts"] != _reference()["input_settings"]["kpts"]
    assert matches_reference(bulk, _reference())
    assert not matches_reference(bulk, _reference(ecut=600))  # other overrides
    assert not matches_reference(bulk, _reference(spin_polarized=False))
    assert not matches_reference(bulk, {**_reference(), "functional": "r2SCAN"})
    assert not matches_reference(bulk, {**_reference(), "code": "vasp"})
    assert not matches_reference({**bulk, "side_kind": "model"}, _reference())
    # an engine that records no settings: the engine named in side_key, at the functional
    bare = _relaxation("b", input_settings={}, side_key="dft:gpaw:PBE:ff")
    assert matches_reference(bare, _reference())
    assert not matches_reference({**bare, "side_key": "dft:vasp:PBE:ff"}, _reference())


def test_model_bulk_matches_model_id_and_weights() -> None:
    mine = _relaxation(
        "m", side_kind="model", side="chgnet-0.3.0", side_key="model:chgnet-0.3.0:c0ffee"
    )
    assert matches_model(mine, MODEL)
    assert not matches_model(mine, {**MODEL, "checksum": "other"})
    assert not matches_model(_relaxation("d"), MODEL)


def test_only_successful_cell_relaxations_are_bulks() -> None:
    assert is_relaxed_bulk(_relaxation("r"))
    positions_only = _relaxation("p", settings={"relax_cell": False, "fix_indices": []})
    fixed = _relaxation("f", settings={"relax_cell": True, "fix_indices": [0]})
    static = _relaxation("s", settings={"relax_cell": True, "fix_indices": [], "max_steps": 0})
    failed = _relaxation("x", status="failed", energy_per_atom=None)
    for doc in (positions_only, fixed, static, failed):
        assert not is_relaxed_bulk(doc)


def test_the_latest_matching_bulk_counts() -> None:
    old, new = _relaxation("a"), _relaxation("b", created_at=datetime(2026, 6, 1))
    other = _relaxation("c", created_at=datetime(2027, 1, 1), functional="r2SCAN")
    bulks = RelaxedBulks({"Ni-bulk": [new, old, other]})
    assert bulks.for_reference("Ni-bulk", _reference()) is new
    assert bulks.for_reference("Cu-bulk", _reference()) is None
    assert bulks.for_model("Ni-bulk", MODEL) is None
    assert bulk_stamp(None) == "-"
    assert bulk_stamp(new) != bulk_stamp({**new, "energy_per_atom": -5.6})
