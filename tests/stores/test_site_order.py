"""A reference and a prediction of one structure in two site orders compare site by site.

Planted: an EMT "DFT" reference imported with its sites shuffled against an EMT "model"
whose forces are 0.8 times EMT's, computed on the generated structure's order. Lined up,
every force ratio is exactly 0.8; compared row by row (the bug this guards), it is not.
"""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.emt import EMT
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor
from pymongo import MongoClient

from pesbench.report.queries import load_force_pairs
from pesbench.schemas.ids import site_order, site_permutation, structure_id
from pesbench.schemas.prediction import ModelInfo, PredictionDoc
from pesbench.schemas.reference import ImportProvenance, ReferenceDoc
from pesbench.schemas.structure import HighEnergyDetails, StructureDoc
from pesbench.settings import PesbenchSettings
from pesbench.stores.builders import build_comparisons
from pesbench.stores.query import query_comparisons

MODEL = ModelInfo(
    model_id="emt-0.8", name="ase", version="1", checksum="e0e0", functional="PBE",
    energy_convention="raw",
)  # fmt: skip
SCALE = 0.8


def _emt(structure: Structure) -> tuple[float, np.ndarray]:
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = EMT()
    return float(atoms.get_potential_energy()), atoms.get_forces()


def _rattled(seed: int) -> Structure:
    bulk = Structure(
        Lattice.cubic(3.6), ["Cu"] * 4, [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    )
    cell = bulk * 2
    cell.replace(0, "Ni")  # two species: a permutation must keep each force on its atom
    cell.perturb(0.15, min_distance=0.05)
    return Structure.from_sites(cell.sites[seed:] + cell.sites[:seed])


PARENT = Structure(
    Lattice.cubic(3.6), ["Cu"] * 4, [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
)


def _shuffled(structure: Structure, seed: int) -> Structure:
    order = np.random.default_rng(seed).permutation(len(structure))
    return Structure.from_sites([structure[int(i)] for i in order])


def test_site_permutation_lines_up_one_structure_and_refuses_two() -> None:
    a = _rattled(0)
    b = _shuffled(a, 1)
    assert structure_id(a) == structure_id(b)
    assert site_order(a) != site_order(b)
    p = site_permutation(a, b)
    assert [a[int(i)].species_string for i in p] == [s.species_string for s in b]
    np.testing.assert_allclose(a.cart_coords[p], b.cart_coords, atol=1e-10)
    other = a.copy()
    other.translate_sites([3], [0.01, 0, 0])
    with pytest.raises(ValueError, match="same sites"):
        site_permutation(a, other)


def _store(settings: PesbenchSettings, with_structures: bool) -> list[StructureDoc]:
    docs, refs, preds = [], [], []
    for k, shuffle in enumerate((True, False)):
        generated = _rattled(k)
        doc = StructureDoc.from_structure(
            generated, parent=PARENT, category="high_energy", role="rattled",
            generator="test", parameters={},
            details=HighEnergyDetails(
                mode="rattled", sample_index=k, sigma_A=0.15,
                supercell_matrix=((2, 0, 0), (0, 2, 0), (0, 0, 2)),
            ),
        )  # fmt: skip
        docs.append(doc)
        imported = _shuffled(generated, 7) if shuffle else generated
        e_ref, f_ref = _emt(imported)
        refs.append(
            ReferenceDoc(
                structure_id=doc.structure_id, n_atoms=len(imported), energy=e_ref,
                energy_per_atom=e_ref / len(imported), forces=f_ref.tolist(),
                structure=imported, functional="PBE", code="emt", input_hash="dataset",
                provenance=ImportProvenance(
                    dataset="d", source_file="x.extxyz", source_format="extxyz", frame_index=k
                ),
            )
        )  # fmt: skip
        e_model, f_model = _emt(generated)
        preds.append(
            PredictionDoc.from_prediction(
                generated, model=MODEL, device="cpu", batch_size=1, seconds=0.0,
                energy=e_model, forces=SCALE * f_model, stress=np.zeros((3, 3)),
            )
        )  # fmt: skip
    assert refs[0].site_order != preds[0].site_order  # the case under test
    assert refs[1].site_order == preds[1].site_order
    with MongoClient(settings.db_uri) as client:
        db = client[settings.db_name]
        if with_structures:
            db.structures.insert_many([d.model_dump(mode="json") for d in docs])
        db.references.insert_many([r.model_dump(mode="json") for r in refs])
        db.predictions.insert_many([p.model_dump(mode="json") for p in preds])
    return docs


def _comparisons(settings: PesbenchSettings) -> list[dict]:
    with MongoClient(settings.db_uri) as client:
        return list(client[settings.db_name].comparisons.find({}, {"_id": 0}))


def test_forces_in_two_site_orders_are_compared_atom_by_atom(
    db_settings: PesbenchSettings,
) -> None:
    _store(db_settings, with_structures=True)
    build_comparisons(db_settings)
    docs = _comparisons(db_settings)
    per_structure = [d for d in docs if d["level"] == "structure"]
    assert len(per_structure) == 2
    for d in per_structure:
        assert d["force_scale"] == pytest.approx(SCALE, abs=1e-12)
    (material,) = [d for d in docs if d["level"] == "material"]
    assert material["softening_scale"] == pytest.approx(SCALE, abs=1e-12)
    assert material["cmae"] == pytest.approx(0.0, abs=1e-12)
    assert material["r2"] == pytest.approx(1.0, abs=1e-12)
    # the report's force parity reads the same pairs, lined up the same way
    (pair,) = load_force_pairs(query_comparisons(db_settings, level="structure"), db_settings)
    np.testing.assert_allclose(pair.model, SCALE * pair.reference, atol=1e-12)


def test_a_prediction_whose_site_order_is_nowhere_has_no_force_errors(
    db_settings: PesbenchSettings,
) -> None:
    """Without the generated structure the prediction's order cannot be found: its forces
    are not compared (no force errors), rather than compared to the wrong atoms."""
    docs = _store(db_settings, with_structures=False)
    build_comparisons(db_settings)
    by_id = {d["structure_id"]: d for d in _comparisons(db_settings) if d["level"] == "structure"}
    assert by_id[docs[0].structure_id]["force_mae"] is None
    assert by_id[docs[0].structure_id]["energy_per_atom_error"] is not None
    assert by_id[docs[1].structure_id]["force_scale"] == pytest.approx(SCALE, abs=1e-12)
