"""Energy errors referenced to each side's own relaxed parent bulk (issue 12, item 3).

EMT is the "DFT" (code emt-fake) and EMT scaled by 0.8 the model: the model's energy per
atom over its own relaxed bulk is 0.8 times the DFT's (scaling does not move the minimum),
so every referenced error is -0.2 times the DFT's energy over its bulk, while the
difference of the absolute totals carries -0.2 times EMT's energy zero too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from campaigns import emt_campaign
from jobflow import run_locally
from planted import SCALED_EMT, SOFTENING
from pymongo import MongoClient

from pesbench.makers.predict import PredictMaker
from pesbench.makers.properties import RelaxMaker
from pesbench.settings import PesbenchSettings
from pesbench.stores.builders import build_comparisons
from pesbench.stores.query import query_comparisons
from pesbench.workflows.campaign import CampaignFlowMaker
from pesbench.workflows.spec import load_spec

PLANTED = {"calculator_kwargs": {"scale": SOFTENING}}
CATEGORIES = {  # supercells of a few atoms, so that rattling moves atoms against others
    "high_energy": {
        "sigmas_A": [0.05, 0.1],
        "n_rattled": 1,
        "strains": [0.03],
        "md_snapshots": 0,
        "min_length_A": 5.0,
    }
}
PROPERTIES = {
    "categories": {"high_energy": {"sigmas_A": [0.05], "n_rattled": 1, "strains": []}},
    "functionals": ["PBE"],
    "fmax": 0.001,
}


def _collection(settings: PesbenchSettings, name: str) -> list[dict[str, Any]]:
    with MongoClient(settings.db_uri) as client:
        return list(client[settings.db_name][name].find({}, {"_id": 0}))


@pytest.fixture
def campaign(db_settings: PesbenchSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The EMT campaign (Cu, Al; high-energy structures) with bulk relaxations stored."""
    monkeypatch.chdir(tmp_path)
    path = emt_campaign(
        tmp_path,
        "referenced",
        models=[SCALED_EMT],
        functionals=["PBE"],
        categories=CATEGORIES,
        properties=PROPERTIES,
    )
    maker = (
        CampaignFlowMaker()
        .update_kwargs(PLANTED, class_filter=RelaxMaker)
        .update_kwargs(PLANTED, class_filter=PredictMaker)
    )
    run_locally(maker.make(load_spec(path)), ensure_success=True)
    build_comparisons(db_settings)
    return "referenced"


def test_referenced_error_is_the_planted_softening_of_the_energy_above_the_bulk(
    db_settings: PesbenchSettings, campaign: str
) -> None:
    bulks = {
        (r["structure_id"], r["side_kind"]): r
        for r in _collection(db_settings, "relaxations")
        if r["settings"]["relax_cell"] and r["status"] == "success"
    }
    docs = query_comparisons(db_settings, "structure", campaign=campaign)
    assert len(docs) == 6  # Cu and Al, 3 high-energy structures each
    for row in docs.to_dict("records"):
        dft_bulk, model_bulk = bulks[(row["material"], "dft")], bulks[(row["material"], "model")]
        assert row["bulk_relaxation_id_reference"] == dft_bulk["relaxation_id"]
        assert row["bulk_relaxation_id_model"] == model_bulk["relaxation_id"]
        above = row["energy_per_atom_reference"] - dft_bulk["energy_per_atom"]
        assert row["energy_referenced_reference"] == pytest.approx(above, abs=1e-12)
        assert abs(above) > 1e-3  # strained and rattled: well above the bulk
        assert row["energy_referenced_error"] == pytest.approx(-0.2 * above, abs=1e-6)
        # the absolute difference carries EMT's energy zero: -0.2 of the whole total
        absolute = -0.2 * row["energy_per_atom_reference"]
        assert row["energy_per_atom_error"] == pytest.approx(absolute, abs=1e-9)
        assert abs(row["energy_per_atom_error"] - row["energy_referenced_error"]) > 1e-4

    material = query_comparisons(db_settings, "material", campaign=campaign)
    assert len(material) == 2
    for row in material.to_dict("records"):
        assert row["energy_referencing"] == "relaxed_bulk"
        assert row["n_energy_referenced"] == row["n_structures"] == 3
        mine = docs[docs["material"] == row["material"]]["energy_referenced_error"]
        assert row["energy_referenced_mae"] == pytest.approx(mine.abs().mean(), abs=1e-12)


def test_a_new_bulk_relaxation_rebuilds_the_comparisons_that_use_it(
    db_settings: PesbenchSettings, campaign: str
) -> None:
    assert build_comparisons(db_settings) == {"structure": 0, "material": 0}
    before = query_comparisons(db_settings, "structure", campaign=campaign)
    dft_bulk = next(
        r
        for r in _collection(db_settings, "relaxations")
        if r["settings"]["relax_cell"]
        and r["side_kind"] == "dft"
        and r["structure_id"].startswith("Cu-")
    )
    newer = {
        **dft_bulk,
        "relaxation_id": "newer-cu-bulk",
        "energy_per_atom": dft_bulk["energy_per_atom"] - 0.01,
        "created_at": datetime.now(UTC),
    }
    with MongoClient(db_settings.db_uri) as client:
        client[db_settings.db_name].relaxations.insert_one(newer)
    assert build_comparisons(db_settings) == {"structure": 3, "material": 1}
    after = query_comparisons(db_settings, "structure", campaign=campaign)
    cu = after["material"] == dft_bulk["structure_id"]
    assert (after[cu]["bulk_relaxation_id_reference"] == "newer-cu-bulk").all()
    shift = after["energy_referenced_error"] - before["energy_referenced_error"]
    assert shift[cu].tolist() == pytest.approx([-0.01] * 3, abs=1e-12)
    assert shift[~cu].tolist() == pytest.approx([0.0] * 3, abs=1e-12)
    assert build_comparisons(db_settings) == {"structure": 0, "material": 0}


def test_without_a_model_bulk_the_centred_mae_is_the_one_shown(
    db_settings: PesbenchSettings, campaign: str
) -> None:
    with MongoClient(db_settings.db_uri) as client:
        deleted = client[db_settings.db_name].relaxations.delete_many(
            {"side_kind": "model", "settings.relax_cell": True}
        )
    assert deleted.deleted_count == 2
    assert build_comparisons(db_settings) == {"structure": 6, "material": 2}
    docs = query_comparisons(db_settings, "structure", campaign=campaign)
    assert docs["energy_referenced_error"].isna().all()
    assert docs["bulk_relaxation_id_reference"].notna().all()  # the DFT side's is kept
    material = query_comparisons(db_settings, "material", campaign=campaign)
    assert set(material["energy_referencing"]) == {"mean_offset"}
    assert material["energy_referenced_mae"].isna().all()
    assert material["energy_mae_centered"].notna().all()
