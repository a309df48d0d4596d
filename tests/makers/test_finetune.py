"""FineTuneMaker and ScaleFitMaker on stored references; their model ids through ``pesbench run``.

References come from a campaign on the EMT fake engine (real MongoDB, real CHGNet): the
fine-tune is one short epoch, enough to check the plumbing (split, storage, registration,
recorded sanity expectation, held-out metrics), not the science (benchmarks/finetune).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from jobflow import run_locally
from pymatgen.core import Lattice, Structure
from typer.testing import CliRunner

from pesbench.cli import app
from pesbench.makers.finetune import FineTuneMaker, ScaleFitMaker, load_training_set, run_finetune
from pesbench.mlip import load_model
from pesbench.mlip.chgnet import model_card_path
from pesbench.mlip.errors import ModelSanityError
from pesbench.schemas.correction import FineTuneDoc, ScaleFitDoc
from pesbench.schemas.ids import structure_id as structure_id_of
from pesbench.settings import PesbenchSettings
from pesbench.stores.builders import collection_store
from pesbench.stores.jobstore import get_job_store
from pesbench.workflows.execute import run_campaign
from pesbench.workflows.spec import load_spec

EMT = "pesbench.testing.emt:EmtEngine"


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _spec(tmp_path: Path, name: str, models: list[str]) -> Path:
    for formula, a in (("Cu", 3.61), ("Al", 4.05)):
        Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), [formula], [[0, 0, 0]]).to(
            filename=str(tmp_path / f"{formula}.cif")
        )
    spec = {
        "name": name,
        "structures": ["Cu.cif", "Al.cif"],
        "categories": {
            "high_energy": {
                "sigmas_A": [0.05, 0.1],
                "n_rattled": 1,
                "strains": [0.03],
                "md_snapshots": 0,
                "min_length_A": 3.5,  # 4-atom cells: a 1-atom cell has no forces
            }
        },
        "max_per_category": 3,
        "functionals": ["r2SCAN"],
        "dft": {"engine": EMT},
        "models": models,
        "chunk_size": 6,
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _predicted_models(settings: PesbenchSettings, campaign: str) -> set[str]:
    store = collection_store("predictions", settings)
    store.connect()
    try:
        docs = list(store.query({"campaign": campaign, "status": "success"}))
    finally:
        store.close()
    return {doc["model"]["model_id"] for doc in docs}


def test_finetuned_and_scaled_model_ids_run_through_pesbench_run(
    db_settings: PesbenchSettings, tmp_path: Path
) -> None:
    refs = run_campaign(load_spec(_spec(tmp_path, "emt-refs", ["chgnet-0.3.0"])), db_settings)
    assert refs["references_new"] == 6

    data = load_training_set("r2SCAN", settings=db_settings)
    assert sorted(set(data.materials)) == ["Al", "Cu"]
    assert len(data) == 6

    maker = FineTuneMaker(epochs=1, batch_size=3, seed=7, val_materials=[], test_materials=["Al"])
    doc = run_finetune(maker, settings=db_settings)
    assert doc.split == {"train": ["Cu"], "val": [], "test": ["Al"]}
    assert doc.n_structures == {"train": 3, "val": 0, "test": 3}
    assert doc.seed == 7
    assert sorted(doc.reference_ids) == sorted(data.ids)
    # AtomRef refitted on the EMT energies (about 0 eV/atom), far from CHGNet's -4 eV/atom
    assert doc.atomref_before["Cu"] < -3
    assert doc.atomref_after["Cu"] > doc.atomref_before["Cu"] + 2
    checkpoint = db_settings.models_path / doc.checkpoint
    assert checkpoint.is_file()
    assert doc.model_id == f"chgnet:{doc.checkpoint}"
    assert FineTuneDoc.model_validate_json(model_card_path(checkpoint).read_text()) == doc
    assert doc.before is not None
    assert doc.after is not None
    assert doc.before.n_structures == doc.after.n_structures == 3
    assert doc.before.model == "chgnet-0.3.0"

    # the recorded expectation is what lets it load; a tampered record fails the check
    assert load_model(doc.model_id).expected_energies == doc.sanity_energies
    card = model_card_path(checkpoint)
    text = card.read_text()
    bad = doc.model_copy(
        update={"sanity_energies": {k: v + 1 for k, v in doc.sanity_energies.items()}}
    )
    card.write_text(bad.model_dump_json())
    with pytest.raises(ModelSanityError):
        load_model(doc.model_id)
    card.write_text(text)

    # a softening-scale fit on one stored structure, through the jobflow Maker
    rattled = int(np.argmax([np.abs(f).max() for f in data.forces]))  # a strained cell has none
    structure_id = structure_id_of(data.structures[rattled])
    fit_job = ScaleFitMaker(model=doc.model_id, functional="r2SCAN").make([structure_id])
    run_locally(fit_job, store=get_job_store(db_settings), root_dir=tmp_path, ensure_success=True)
    store = get_job_store(db_settings)
    store.connect()
    fit = ScaleFitDoc.model_validate(
        {k: v for k, v in store.get_output(fit_job.uuid).items() if not k.startswith("@")}
    )
    store.close()
    assert fit.structure_ids == [structure_id]
    assert fit.base_model == doc.model_id

    runner = CliRunner()
    spec = _spec(tmp_path, "emt-tuned", [doc.model_id, fit.model_id])
    result = runner.invoke(app, ["run", str(spec)])
    assert result.exit_code == 0, result.output
    assert _predicted_models(db_settings, "emt-tuned") == {doc.model_id, fit.model_id}
