"""Results stored as they land (issue 15, item 1): a success is final, a failure replaced."""

from __future__ import annotations

from pymongo import MongoClient

from pesbench.schemas.reference import ReferenceDoc
from pesbench.settings import PesbenchSettings
from pesbench.stores.references import ReferenceStore


def _ref(status: str, energy: float | None, campaign: str = "a") -> ReferenceDoc:
    return ReferenceDoc(
        structure_id="Si2-abc",
        n_atoms=2,
        status=status,  # type: ignore[arg-type]
        failure_reason=None if status == "success" else "SCF did not converge",
        energy=energy,
        energy_per_atom=None if energy is None else energy / 2,
        functional="PBE",
        code="gpaw",
        input_hash="h",
        campaign=campaign,
    )


def test_a_success_is_final_and_a_failure_is_replaced(db_settings: PesbenchSettings) -> None:
    failed, ok, other = _ref("failed", None), _ref("success", -10.8), _ref("success", -99.0, "b")
    assert failed.reference_id == ok.reference_id == other.reference_id  # same inputs
    with ReferenceStore(db_settings) as refs:
        assert refs.store_results([failed]) == 1
        assert refs.store_results([ok]) == 1  # the failure is replaced (a retry succeeded)
        # another campaign reuses it: recorded on the stored document
        with MongoClient(db_settings.db_uri) as client:
            client[db_settings.db_name].references.update_one(
                {"reference_id": ok.reference_id}, {"$addToSet": {"campaigns": "b"}}
            )
        assert refs.store_results([ok, other]) == 0  # stored again (the finish job): no-op
        assert refs.store_results([failed]) == 0  # a late failure never hides the success
        [stored] = list(refs.query())
    assert stored.status == "success"
    assert stored.energy == -10.8
    assert stored.campaigns == ["a", "b"]
