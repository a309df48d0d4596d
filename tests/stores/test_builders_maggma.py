"""The comparison builders on maggma (issue 17, item 4).

Serializable (``as_dict`` round trip, no URI), run by the real ``mrun`` to the documents
``build_comparisons`` writes, incremental by maggma's ``last_updated`` at the material level,
and a failed item is written as failed while the build goes on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from monty.json import MontyDecoder
from monty.serialization import dumpfn
from pymatgen.core import Lattice, Structure
from pymongo import MongoClient

from pesbench.schemas.prediction import ModelInfo, PredictionDoc
from pesbench.schemas.reference import ReferenceDoc
from pesbench.schemas.structure import HighEnergyDetails, StructureDoc
from pesbench.settings import PesbenchSettings, override_settings
from pesbench.stores.builders import (
    FAILED,
    MaterialComparisonBuilder,
    StructureComparisonBuilder,
    build_comparisons,
    builders_for_mrun,
    collection_store,
)
from pesbench.stores.query import query_comparisons

CHGNET = ModelInfo(
    model_id="chgnet-0.3.0", name="chgnet", version="0.3.0", checksum="c0ffee", functional="PBE"
)
OTHER = ModelInfo(model_id="other-1", name="other", version="1", checksum="f00d", functional="PBE")
VOLATILE = {"_id", "created_at", "last_updated"}


def _rattled(element: str, a: float, n: int) -> list[StructureDoc]:
    bulk = Structure(
        Lattice.cubic(a), [element] * 4, [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    )
    docs = []
    for i in range(n):
        cell = bulk.copy()
        cell.perturb(0.1 + 0.05 * i, min_distance=0.05)
        details = HighEnergyDetails(
            mode="rattled", sample_index=i, sigma_A=0.1, supercell_matrix=((1, 0, 0),) * 3
        )
        docs.append(
            StructureDoc.from_structure(
                cell, category="high_energy", role="rattled", details=details,
                parent=bulk, generator="test", parameters={},
            )
        )  # fmt: skip
    return docs


def _pair(doc: StructureDoc, rng: np.random.Generator) -> tuple[ReferenceDoc, PredictionDoc]:
    n = doc.nsites
    forces = rng.normal(0, 1.0, size=(n, 3))
    ref = ReferenceDoc(
        structure_id=doc.structure_id, n_atoms=n, energy=-4.0 * n, energy_per_atom=-4.0,
        forces=forces.tolist(), stress=np.eye(3).tolist(), functional="PBE", code="gpaw",
        input_hash="h", campaign="camp",
    )  # fmt: skip
    pred = _prediction(doc, forces * 0.8, CHGNET)
    return ref, pred


def _prediction(doc: StructureDoc, forces: np.ndarray, model: ModelInfo) -> PredictionDoc:
    n = doc.nsites
    return PredictionDoc(
        structure_id=doc.structure_id, n_atoms=n, energy=-3.98 * n, energy_per_atom=-3.98,
        forces=forces.tolist(), stress=(0.5 * np.eye(3)).tolist(), model=model,
        device="cpu", batch_size=4, seconds=0.1, campaign="camp",
    )  # fmt: skip


def _populate(settings: PesbenchSettings, *, al_extra: dict[str, Any] | None = None) -> Any:
    """Three rattled Cu and three rattled Al cells, a PBE reference and a CHGNET prediction
    each; ``al_extra`` is added to the Al structures' documents."""
    rng = np.random.default_rng(0)
    cu, al = _rattled("Cu", 3.6, 3), _rattled("Al", 4.05, 3)
    pairs = [_pair(d, rng) for d in cu + al]
    with MongoClient(settings.db_uri) as client:
        db = client[settings.db_name]
        db.structures.insert_many(
            [d.model_dump(mode="json") for d in cu]
            + [d.model_dump(mode="json") | (al_extra or {}) for d in al]
        )
        db.references.insert_many([r.model_dump() for r, _ in pairs])
        db.predictions.insert_many([p.model_dump() for _, p in pairs])
    return cu, al


def _comparisons(settings: PesbenchSettings, **criteria: Any) -> list[dict[str, Any]]:
    with MongoClient(settings.db_uri) as client:
        return list(
            client[settings.db_name].comparisons.find(criteria, sort=[("comparison_id", 1)])
        )


def _now() -> datetime:
    return datetime.now(UTC)


def _without_times(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in d.items() if k not in VOLATILE} for d in docs]


def test_builders_round_trip_through_as_dict_without_the_uri() -> None:
    uri = "mongodb://pesuser:s3cretPW@127.0.0.1:1/?authSource=admin"
    with override_settings(db_uri=uri, db_name="roundtrip") as settings:
        stores = {n: collection_store(n, settings) for n in ("references", "predictions")}
        comparisons, structures = collection_store("comparisons"), collection_store("structures")
        built = [
            StructureComparisonBuilder(
                stores["references"], stores["predictions"], comparisons, structures,
                cross_functional=True, query={"campaign": "x"}, chunk_size=50,
            ),
            MaterialComparisonBuilder(comparisons, stores["references"], stores["predictions"]),
            *builders_for_mrun(settings),
        ]  # fmt: skip
        for builder in built:
            data = builder.as_dict()
            text = json.dumps(data)
            assert "s3cretPW" not in text
            assert "127.0.0.1" not in text
            loaded = MontyDecoder().process_decoded(json.loads(text))
            assert type(loaded) is type(builder)
            assert loaded.as_dict() == data
            assert loaded.comparisons.database == "roundtrip"
            assert loaded.comparisons.uri is None  # connects to its process's settings
    first = MontyDecoder().process_decoded(built[0].as_dict())
    assert (first.cross_functional, first.query, first.chunk_size) == (True, {"campaign": "x"}, 50)
    assert first.relaxations is None
    structure, material = builders_for_mrun(settings, cross_functional=True)
    assert structure.cross_functional is True
    assert structure.relaxations.collection_name == "relaxations"
    assert material.structures.collection_name == "structures"


def test_mrun_writes_the_comparisons_build_comparisons_writes(
    db_settings: PesbenchSettings, tmp_path: Path
) -> None:
    _populate(db_settings)
    path = tmp_path / "builders.json"
    dumpfn(builders_for_mrun(db_settings), path)
    env = {
        **os.environ,
        "PESBENCH_DB_URI": str(db_settings.db_uri),
        "PESBENCH_DATA_DIR": str(tmp_path / "data"),
    }
    mrun = Path(sys.executable).parent / "mrun"
    done = subprocess.run(
        [str(mrun), "--no_bars", str(path)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    by_mrun = _comparisons(db_settings)
    assert [d["level"] for d in by_mrun].count("structure") == 6
    assert [d["level"] for d in by_mrun].count("material") == 2
    assert all(isinstance(d["last_updated"], datetime) for d in by_mrun)
    # what mrun wrote is up to date for build_comparisons: the same stamps
    assert build_comparisons(db_settings) == {"structure": 0, "material": 0}

    with MongoClient(db_settings.db_uri) as client:
        client[db_settings.db_name].comparisons.delete_many({})
    assert build_comparisons(db_settings) == {"structure": 6, "material": 2}
    assert _without_times(_comparisons(db_settings)) == _without_times(by_mrun)


def test_an_aggregate_is_rebuilt_when_a_member_is_newer(db_settings: PesbenchSettings) -> None:
    _populate(db_settings)
    build_comparisons(db_settings)
    for doc in _comparisons(db_settings, level="material"):
        members = _comparisons(db_settings, level="structure", material=doc["material"])
        assert doc["last_updated"] == max(m["last_updated"] for m in members)

    # a campaign reusing one stored prediction ($addToSet: its last_updated stays)
    cu_pred = _comparisons(db_settings, level="structure")[0]["prediction_id"]
    with MongoClient(db_settings.db_uri) as client:
        db = client[db_settings.db_name]
        db.predictions.update_one(
            {"prediction_id": cu_pred}, {"$addToSet": {"campaigns": "reuser"}}
        )
        db.references.update_many({}, {"$addToSet": {"campaigns": "reuser"}})
    assert build_comparisons(db_settings) == {"structure": 1, "material": 1}
    (rebuilt,) = _comparisons(db_settings, level="structure", campaigns="reuser")
    (aggregate,) = _comparisons(db_settings, level="material", campaigns="reuser")
    assert aggregate["last_updated"] == rebuilt["last_updated"]
    assert aggregate["material"] == rebuilt["material"]
    assert build_comparisons(db_settings) == {"structure": 0, "material": 0}


def test_a_failing_pair_is_marked_failed_and_the_build_goes_on(
    db_settings: PesbenchSettings,
) -> None:
    cu, _ = _populate(db_settings)
    bad = _prediction(cu[0], np.zeros((3, 3)), OTHER)  # forces of 3 atoms for 4
    with MongoClient(db_settings.db_uri) as client:
        client[db_settings.db_name].predictions.insert_one(bad.model_dump())

    assert build_comparisons(db_settings) == {"structure": 7, "material": 2, "failed": 1}
    (failed,) = _comparisons(db_settings, status=FAILED)
    assert failed["level"] == "structure"
    assert failed["prediction_id"] == bad.prediction_id
    assert failed["model_id"] == "other-1"
    assert failed["source_stamp"]
    assert "shape (4, 3) != predicted shape (3, 3)" in failed["error"]
    # the other pairs and their aggregates are there; readers skip the failed one
    assert len(query_comparisons(db_settings, "structure")) == 6
    assert set(query_comparisons(db_settings, "material")["model_id"]) == {"chgnet-0.3.0"}
    assert build_comparisons(db_settings) == {"structure": 0, "material": 0}  # not retried

    # the prediction computed again (a new document): retried, and its group built
    fixed = bad.model_copy(update={"forces": np.zeros((4, 3)).tolist(), "created_at": _now()})
    with MongoClient(db_settings.db_uri) as client:
        client[db_settings.db_name].predictions.replace_one(
            {"prediction_id": bad.prediction_id}, fixed.model_dump()
        )
    assert build_comparisons(db_settings) == {"structure": 1, "material": 1}
    assert _comparisons(db_settings, status=FAILED) == []
    assert len(query_comparisons(db_settings, "material")) == 3

    # computed again, wrong again: the pair fails and its group's aggregate goes with it
    with MongoClient(db_settings.db_uri) as client:
        client[db_settings.db_name].predictions.replace_one(
            {"prediction_id": bad.prediction_id},
            bad.model_copy(update={"created_at": _now()}).model_dump(),
        )
    assert build_comparisons(db_settings) == {"structure": 1, "material": 0, "failed": 1}
    assert set(query_comparisons(db_settings, "material")["model_id"]) == {"chgnet-0.3.0"}
    assert _comparisons(db_settings, level="material", model_id="other-1") == []


def test_a_failing_group_is_marked_failed_and_the_build_goes_on(
    db_settings: PesbenchSettings,
) -> None:
    # Al's structure documents hold a field this version does not know
    _populate(db_settings, al_extra={"from_the_future": 1})
    assert build_comparisons(db_settings) == {"structure": 6, "material": 2, "failed": 1}
    (failed,) = _comparisons(db_settings, status=FAILED)
    assert (failed["level"], failed["category"], failed["model_id"]) == (
        "material", "high_energy", "chgnet-0.3.0"
    )  # fmt: skip
    assert "from_the_future" in failed["error"]
    members = _comparisons(db_settings, level="structure", material=failed["material"])
    assert len(members) == 3
    assert failed["last_updated"] == max(m["last_updated"] for m in members)
    (good,) = query_comparisons(db_settings, "material").to_dict("records")
    assert good["formula"] == "Cu"
    assert build_comparisons(db_settings) == {"structure": 0, "material": 0}


def test_a_comparison_written_since_the_items_were_gathered_is_replaced(
    db_settings: PesbenchSettings,
) -> None:
    # new comparisons are inserted, not upserted: one another build wrote meanwhile is
    # replaced (its insert fails on the unique comparison_id), not duplicated or lost
    _populate(db_settings)
    names = ("references", "predictions", "comparisons", "structures")
    stores = {name: collection_store(name, db_settings) for name in names}
    builder = StructureComparisonBuilder(*(stores[name] for name in names))
    builder.connect()
    items = list(builder.get_items())
    assert len(items) == 6
    assert builder.stored_ids == set()
    assert build_comparisons(db_settings) == {"structure": 6, "material": 2}  # meanwhile
    other = _comparisons(db_settings, level="structure")

    builder.update_targets([builder.process_item(item) for item in items])
    assert builder.n_written == 6
    mine = _comparisons(db_settings, level="structure")
    assert _without_times(mine) == _without_times(other)
    assert [d["_id"] for d in mine] == [d["_id"] for d in other]  # replaced in place
    assert all(m["created_at"] > o["created_at"] for m, o in zip(mine, other, strict=True))
