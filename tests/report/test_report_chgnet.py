"""Acceptance 2, fast variant: real model numbers on rattled cells.

CHGNet r2scan STANDS IN for the DFT reference (no GPAW in this environment), against
CHGNet 0.3.0 predictions; the reference code says so and the report flags it. The pair is
a cross-functional one (a PBE-trained model against r2SCAN-like forces).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure
from pymongo import MongoClient

from pesbench.report import write_report
from pesbench.schemas.prediction import ModelInfo, PredictionDoc
from pesbench.schemas.reference import ReferenceDoc, hash_inputs
from pesbench.schemas.structure import HighEnergyDetails, StructureDoc
from pesbench.settings import PesbenchSettings
from pesbench.stores.query import query_comparisons

STAND_IN = "chgnet-r2scan (stand-in for DFT)"


def _bulks() -> dict[str, Structure]:
    fcc = [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    return {
        "MgO": Structure.from_spacegroup(
            "Fm-3m", Lattice.cubic(4.21), ["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]]
        ),
        "Si": Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.43), ["Si"], [[0, 0, 0]]),
        "NaCl": Structure.from_spacegroup(
            "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
        ),
        "Cu": Structure(Lattice.cubic(3.61), ["Cu"] * 4, fcc) * (2, 1, 1),
    }


@pytest.mark.slow
def test_chgnet_softening_table_and_report(db_settings: PesbenchSettings, tmp_path: Path) -> None:
    chgnet = pytest.importorskip("chgnet.model")
    model = chgnet.CHGNet.load(model_name="0.3.0", verbose=False)
    stand_in = chgnet.CHGNet.load(model_name="r2scan", verbose=False)
    rng = np.random.default_rng(42)
    docs, cells = [], []
    for bulk in _bulks().values():
        for i, sigma in enumerate((0.05, 0.1, 0.15)):
            shift = rng.normal(0, sigma, (len(bulk), 3))
            cell = Structure(
                bulk.lattice, bulk.species, bulk.cart_coords + shift, coords_are_cartesian=True
            )
            cells.append(cell)
            docs.append(
                StructureDoc.from_structure(
                    cell, category="high_energy", role="rattled", parent=bulk,
                    generator="test.rattle", parameters={"sigma_A": sigma}, seed=42,
                    details=HighEnergyDetails(
                        mode="rattled", sample_index=i, sigma_A=sigma,
                        supercell_matrix=((1, 0, 0), (0, 1, 0), (0, 0, 1)),
                    ),
                )
            )  # fmt: skip
    ref_out = stand_in.predict_structure(cells, task="efs", batch_size=len(cells))
    pred_out = model.predict_structure(cells, task="efs", batch_size=len(cells))
    info = ModelInfo(
        model_id="chgnet-0.3.0", name="chgnet", version="0.3.0", checksum="chgnet-030",
        functional="PBE", framework="chgnet",
    )  # fmt: skip
    settings = {"model": "chgnet-r2scan"}
    refs, preds = [], []
    for doc, cell, r, p in zip(docs, cells, ref_out, pred_out, strict=True):
        n = len(cell)
        common = {"structure_id": doc.structure_id, "n_atoms": n, "campaign": "chgnet-standin"}
        refs.append(
            ReferenceDoc(
                energy=float(r["e"]) * n,
                energy_per_atom=float(r["e"]),
                forces=r["f"].tolist(),
                stress=r["s"].tolist(),
                functional="r2SCAN",
                code=STAND_IN,
                input_hash=hash_inputs(settings),
                input_settings=settings,
                **common,
            )
        )
        preds.append(PredictionDoc(
            energy=float(p["e"]) * n, energy_per_atom=float(p["e"]), forces=p["f"].tolist(),
            stress=p["s"].tolist(), model=info, device="cpu", batch_size=len(cells),
            seconds=0.0, **common,
        ))  # fmt: skip
    with MongoClient(db_settings.db_uri) as client:
        db = client[db_settings.db_name]
        db.structures.insert_many([d.model_dump(mode="json") for d in docs])
        db.references.insert_many([d.model_dump() for d in refs])
        db.predictions.insert_many([d.model_dump() for d in preds])

    files = write_report("chgnet-standin", tmp_path, db_settings, cross_functional=True)
    table = query_comparisons(db_settings, campaign="chgnet-standin")
    assert len(table) == 4
    assert set(table["pairing"]) == {"cross"}
    assert set(table["reference_code"]) == {STAND_IN}
    assert table["softening_scale"].between(0.3, 3.0).all()
    assert (table["r2"] > 0.95).all()
    assert (table["cmae"] <= table["force_mae"] + 1e-12).all()
    page = files.html.read_text()
    assert "Not DFT" in page
    assert page.count("data:image/png;base64,") == 4  # no GGA/r2SCAN pair: no 5th figure
    keep = os.environ.get("KEEP_CHGNET_REPORT")
    if keep:
        shutil.copytree(tmp_path, keep, dirs_exist_ok=True)
        cols = ["formula", "n_structures", "force_mae", "softening_scale", "slope", "r2",
                "cmae", "one_point_mae_before", "one_point_mae_after", "energy_mae"]  # fmt: skip
        print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    assert isinstance(table, pd.DataFrame)
