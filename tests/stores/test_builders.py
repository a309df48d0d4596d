from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymongo import MongoClient

from pesbench.analysis.conventions import mp2020_correction
from pesbench.schemas.prediction import ModelInfo, PredictionDoc
from pesbench.schemas.reference import ReferenceDoc
from pesbench.schemas.structure import HighEnergyDetails, StructureDoc, SurfaceDetails
from pesbench.settings import PesbenchSettings
from pesbench.stores.builder_common import _fit_size
from pesbench.stores.builders import MAX_DOC_BYTES, build_comparisons
from pesbench.stores.footing import composition_key, structure_correction

EYE = ((1, 0, 0), (0, 1, 0), (0, 0, 1))
CHGNET = ModelInfo(
    model_id="chgnet-0.3.0", name="chgnet", version="0.3.0", checksum="c0ffee", functional="PBE"
)
R2MODEL = ModelInfo(
    model_id="chgnet-r2scan", name="chgnet", version="r2scan", checksum="beef", functional="r2SCAN"
)
AREA = 3.6**2


def _structures() -> list[StructureDoc]:
    bulk = Structure(
        Lattice.cubic(3.6), ["Cu"] * 4, [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    )
    slab = bulk * (1, 1, 3)
    slab.perturb(0.05, min_distance=0.01)
    common = {"parent": bulk, "generator": "test", "parameters": {}}
    docs = [
        StructureDoc.from_structure(
            bulk,
            category="surface",
            role="bulk_reference",
            details=SurfaceDetails(bulk_reference_id="self"),
            **common,
        ),
    ]
    bulk_id = docs[0].structure_id
    docs[0] = docs[0].model_copy(update={"details": SurfaceDetails(bulk_reference_id=bulk_id)})
    docs.append(
        StructureDoc.from_structure(
            slab,
            category="surface",
            role="slab",
            details=SurfaceDetails(
                bulk_reference_id=bulk_id, area_A2=AREA, miller_index=(0, 0, 1), termination_index=0
            ),
            **common,
        )
    )
    for i in range(2):
        rattled = (bulk * 2).copy()
        rattled.perturb(0.1 + 0.05 * i, min_distance=0.05)
        docs.append(
            StructureDoc.from_structure(
                rattled,
                category="high_energy",
                role="rattled",
                details=HighEnergyDetails(
                    mode="rattled",
                    sample_index=i,
                    sigma_A=0.1,
                    supercell_matrix=((2, 0, 0), (0, 2, 0), (0, 0, 2)),
                ),
                **common,
            )
        )
    return docs


ENERGY = {"bulk_reference": -16.0, "slab": -46.5, "rattled": -120.0}  # PBE totals, eV


def _populate(settings: PesbenchSettings) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    structures = _structures()
    refs, preds = [], []
    for doc in structures:
        n = doc.nsites
        forces = rng.normal(0, 1.0, size=(n, 3))
        energy = ENERGY[doc.role] + 0.1 * doc.details.model_dump().get("sample_index", 0)
        for functional, shift, model, scale in (
            ("PBE", 0.0, CHGNET, 0.8),
            ("r2SCAN", -2.0, R2MODEL, 0.9),
        ):
            e_ref = energy + shift * n
            refs.append(
                ReferenceDoc(
                    structure_id=doc.structure_id,
                    n_atoms=n,
                    energy=e_ref,
                    energy_per_atom=e_ref / n,
                    forces=(forces * (1 + 0.1 * (functional == "r2SCAN"))).tolist(),
                    stress=np.eye(3).tolist(),
                    functional=functional,
                    code="gpaw",
                    input_hash="h" + functional,
                    campaign="camp",
                )
            )
            e_pred = e_ref + 0.02 * n  # 20 meV/atom too high, uniformly
            preds.append(
                PredictionDoc(
                    structure_id=doc.structure_id,
                    n_atoms=n,
                    energy=e_pred,
                    energy_per_atom=e_pred / n,
                    forces=(scale * np.asarray(refs[-1].forces)).tolist(),
                    stress=(0.5 * np.eye(3)).tolist(),
                    model=model,
                    device="cpu",
                    batch_size=4,
                    seconds=0.1,
                )
            )
    with MongoClient(settings.db_uri) as client:
        db = client[settings.db_name]
        db.structures.insert_many([d.model_dump(mode="json") for d in structures])
        db.references.insert_many([d.model_dump() for d in refs])
        db.predictions.insert_many([d.model_dump() for d in preds])
    return {"structures": structures, "refs": refs, "preds": preds}


def _snapshot(settings: PesbenchSettings) -> list[dict[str, Any]]:
    with MongoClient(settings.db_uri) as client:
        return list(client[settings.db_name].comparisons.find({}, sort=[("comparison_id", 1)]))


def test_builders_pair_by_training_functional_and_rerun_writes_nothing(
    db_settings: PesbenchSettings,
) -> None:
    data = _populate(db_settings)
    assert build_comparisons(db_settings) == {"structure": 8, "material": 4}
    docs = _snapshot(db_settings)
    structure_level = [d for d in docs if d["level"] == "structure"]
    assert {(d["model_id"], d["functional"]) for d in structure_level} == {
        ("chgnet-0.3.0", "PBE"),
        ("chgnet-r2scan", "r2SCAN"),
    }
    assert all(d["pairing"] == "native" for d in docs)
    for d in structure_level:
        assert d["energy_per_atom_error"] == pytest.approx(0.02)
        assert d["stress_mae"] == pytest.approx(1 / 6)
        assert d["energy_referenced_error"] is None  # no relaxed bulk stored on either side

    material = {(d["category"], d["model_id"]): d for d in docs if d["level"] == "material"}
    high = material[("high_energy", "chgnet-0.3.0")]
    assert high["n_structures"] == 2
    assert high["energy_referencing"] == "mean_offset"
    assert high["energy_referenced_mae"] is None
    assert high["energy_mae_centered"] == pytest.approx(0.0, abs=1e-12)
    assert high["softening_scale"] == pytest.approx(0.8)
    assert high["cmae"] == pytest.approx(0.0, abs=1e-12)
    assert high["one_point_scale"] == pytest.approx(0.8)
    assert high["one_point_mae_after"] == pytest.approx(0.0, abs=1e-12)
    assert material[("high_energy", "chgnet-r2scan")]["softening_scale"] == pytest.approx(0.9)

    surf = material[("surface", "chgnet-0.3.0")]
    (row,) = surf["properties"]
    gamma_ref = (-46.5 - 3 * -16.0) / (2 * AREA) * 16.02176634
    gamma_model = (-46.5 + 0.24 - 3 * (-16.0 + 0.08)) / (2 * AREA) * 16.02176634
    assert row["name"] == "surface_energy"
    assert row["reference"] == pytest.approx(gamma_ref)
    assert row["model"] == pytest.approx(gamma_model)
    assert row["unit"] == "J/m²"

    # acceptance 3: nothing new -> nothing written, nothing changed
    assert build_comparisons(db_settings) == {"structure": 0, "material": 0}
    assert _snapshot(db_settings) == docs

    # a new reference of one structure: only its comparison and its aggregate are rebuilt
    extra = data["refs"][-2].model_copy(update={"input_hash": "other", "reference_id": ""})
    extra = ReferenceDoc.model_validate(extra.model_dump())
    with MongoClient(db_settings.db_uri) as client:
        client[db_settings.db_name].references.insert_one(extra.model_dump())
    assert build_comparisons(db_settings) == {"structure": 1, "material": 1}

    # cross pairs on request: every model against the other functional too
    counts = build_comparisons(db_settings, cross_functional=True)
    assert counts["structure"] == 9
    cross = [d for d in _snapshot(db_settings) if d["pairing"] == "cross"]
    assert {(d["model_id"], d["functional"]) for d in cross} == {
        ("chgnet-0.3.0", "r2SCAN"),
        ("chgnet-r2scan", "PBE"),
    }


def test_oversized_document_is_trimmed() -> None:
    doc = {
        "comparison_id": "x",
        "structure_ids": ["a" * 1000] * (MAX_DOC_BYTES // 900),
        "notes": [],
    }
    out = _fit_size(doc)
    assert out["structure_ids"] == []
    assert "over 15 MiB" in out["notes"][-1]
    small = {"comparison_id": "y", "structure_ids": ["a"], "notes": []}
    assert _fit_size(small) is small


def test_mp2020_correction_is_reused_only_where_the_composition_decides_it() -> None:
    """Cached by composition for intermetallics; computed per structure for O and S."""
    lattice = Lattice.cubic(4.2)
    fe_ni = Structure(lattice, ["Fe", "Ni"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    moved = Structure(lattice, ["Ni", "Fe"], [[0.1, 0, 0], [0.5, 0.5, 0.5]])  # other order
    fe_o = Structure(lattice, ["Fe", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert composition_key(fe_ni.as_dict()) == composition_key(moved.as_dict())
    assert composition_key(fe_o.as_dict()) is None
    assert composition_key(fe_ni.as_dict()) != composition_key((fe_ni * (1, 1, 2)).as_dict())
    for cell in (fe_ni, moved, fe_o, fe_o):
        expected = mp2020_correction(cell) / len(cell)
        assert structure_correction(cell.as_dict()) == pytest.approx(expected, abs=1e-12)
