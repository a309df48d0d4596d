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
from pesbench.errors import PesbenchError
from pesbench.makers.finetune import FineTuneMaker, ScaleFitMaker, load_training_set, run_finetune
from pesbench.mlip import load_model
from pesbench.mlip.chgnet import model_card_path
from pesbench.mlip.errors import ModelSanityError
from pesbench.schemas.correction import FineTuneDoc, ScaleFitDoc
from pesbench.schemas.ids import structure_id as structure_id_of
from pesbench.settings import PesbenchSettings
from pesbench.stores.builders import collection_store
from pesbench.stores.corrections import load_corrections
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
    assert refs.references_new == 6

    data = load_training_set("r2SCAN", settings=db_settings)
    assert sorted(set(data.materials)) == ["Al", "Cu"]
    assert len(data) == 6
    assert (
        load_training_set("r2SCAN", settings=db_settings, campaign=["emt-refs", "x"]).ids
        == data.ids
    )
    assert not len(load_training_set("r2SCAN", settings=db_settings, campaign="x"))

    maker = FineTuneMaker(
        epochs=1, batch_size=3, seed=7, val_materials=[], test_materials=["Al"], campaign="emt-refs"
    )
    doc = run_finetune(maker, settings=db_settings)
    assert doc.split == {"train": ["Cu"], "val": [], "test": ["Al"]}
    assert doc.campaign == "emt-refs"
    assert doc.selection == "last"  # no validation material to select on
    assert doc.selected_epoch == 1
    (note,) = doc.notes  # trained on Cu only: Al's reference energy is not refitted
    assert note.startswith("Al (test) is not a combination of the training compositions (Al not")
    assert load_corrections(db_settings, campaign="emt-refs") == [doc]  # what the report reads
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
    (stored,) = load_corrections(db_settings, model_ids=[fit.model_id])
    assert stored.model_dump(exclude={"created_at"}) == fit.model_dump(exclude={"created_at"})

    runner = CliRunner()
    spec = _spec(tmp_path, "emt-tuned", [doc.model_id, fit.model_id])
    result = runner.invoke(app, ["run", str(spec)])
    assert result.exit_code == 0, result.output
    assert _predicted_models(db_settings, "emt-tuned") == {doc.model_id, fit.model_id}


def test_finetune_and_fit_scale_commands(db_settings: PesbenchSettings, tmp_path: Path) -> None:
    run_campaign(load_spec(_spec(tmp_path, "emt-cli", ["chgnet-0.3.0"])), db_settings)
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["finetune", "-c", "emt-cli", "--test", "Al", "--epochs", "1", "--batch-size", "3"],
    )
    assert result.exit_code == 0, result.output
    assert "held out: Al" in result.output
    assert "warning: Al (test) is not a combination" in result.output
    (tuned,) = load_corrections(db_settings, campaign="emt-cli")
    assert isinstance(tuned, FineTuneDoc)
    assert f"use it as a model id: {tuned.model_id}" in result.output
    assert tuned.learning_rate == 1e-4
    assert tuned.after is not None
    assert f"{tuned.after.energy_mae_per_atom * 1000:.1f}" in result.output

    data = load_training_set("r2SCAN", settings=db_settings, campaign="emt-cli").subset(["Cu"])
    largest = max(data.forces, key=lambda f: float(np.abs(f).max()))
    picked = data.structures[[f is largest for f in data.forces].index(True)]
    result = runner.invoke(
        app,
        ["fit-scale", "-m", "chgnet-0.3.0", "-f", "r2scan", "-c", "emt-cli", "--material", "Cu"],
    )
    assert result.exit_code == 0, result.output
    fits = [
        d for d in load_corrections(db_settings, campaign="emt-cli") if isinstance(d, ScaleFitDoc)
    ]
    assert len(fits) == 1
    assert fits[0].structure_ids == [structure_id_of(picked)]  # the largest DFT forces
    assert f"use it as a model id: {fits[0].model_id}" in result.output

    bad = runner.invoke(app, ["fit-scale", "-f", "r2SCAN", "-c", "emt-cli", "--material", "Xx"])
    assert isinstance(bad.exception, PesbenchError)
    assert "no successful r2SCAN references of campaign emt-cli of Xx" in str(bad.exception)
    bad = runner.invoke(app, ["finetune", "-c", "emt-cli", "--atomref", "magic"])
    assert isinstance(bad.exception, PesbenchError)
    assert "--atomref: expected one of refit, frozen, trainable, scratch" in str(bad.exception)
    bad = runner.invoke(app, ["finetune", "-c", "emt-cli", "--test", "Zn"])
    assert isinstance(bad.exception, PesbenchError)
    assert "Zn have no structures" in str(bad.exception)
