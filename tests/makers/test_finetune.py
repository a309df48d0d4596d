"""FineTuneMaker and ScaleFitMaker on stored references; their model ids through ``pesbench run``.

References come from a campaign on the EMT fake engine (real MongoDB, real CHGNet): the
fine-tune is one short epoch, enough to check the plumbing (split, storage, registration,
recorded sanity expectation, held-out metrics), not the science (benchmarks/finetune).
"""

from __future__ import annotations

import inspect
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import torch
import typer
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
from pesbench.mlip.finetune import LOSS_WEIGHTS, FinetuneParams, finetune_chgnet
from pesbench.mlip.training_set import TrainingSet
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


def test_defaults_live_in_the_maker_and_the_cli_and_library_read_them() -> None:
    maker, fit = FineTuneMaker(), ScaleFitMaker()
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    parsed = {p.name: p.default for p in commands["finetune"].params}
    options = {
        "campaign": "campaign",
        "functional": "functional",
        "base_model": "base_model",
        "atomref": "atomref_mode",
        "val": "val_materials",
        "test": "test_materials",
        "epochs": "epochs",
        "lr": "learning_rate",
        "batch_size": "batch_size",
        "seed": "seed",
        "freeze": "freeze",
        "selection": "selection",
        "device": "device",
    }
    assert {name: parsed[name] for name in options} == {
        name: getattr(maker, attr) for name, attr in options.items()
    }
    parsed = {p.name: p.default for p in commands["fit-scale"].params}
    assert (parsed["model"], parsed["functional"], parsed["device"]) == (
        fit.model,
        fit.functional,
        fit.device,
    )
    # the library function's keyword defaults are the Maker's too (loss weights: None = these)
    signature = inspect.signature(finetune_chgnet).parameters
    for field in fields(FinetuneParams):
        expected = None if field.name == "loss_weights" else getattr(maker, field.name)
        assert signature[field.name].default == expected, field.name
    assert maker.loss_weights == dict(LOSS_WEIGHTS)
    shown = CliRunner().invoke(app, ["finetune", "--help"], terminal_width=200).output
    assert f"[default: {maker.learning_rate}]" in shown
    assert f"[default: {maker.epochs}]" in shown


def _rocksalt(data: TrainingSet, formula: str, species: list[str], a: float) -> None:
    rng = np.random.default_rng(len(data))
    h = a / 2
    for k in range(3):
        s = Structure(Lattice([[0, h, h], [h, 0, h], [h, h, 0]]), species, [[0] * 3, [0.5] * 3])
        s.perturb(0.05)
        data.structures.append(s)
        data.energies.append(-6.0 + 0.01 * k)
        data.forces.append(rng.normal(0, 0.1, (2, 3)))
        data.stresses.append(np.zeros((3, 3)))
        data.ids.append(f"{formula}-{k}")
        data.materials.append(formula)


def test_run_finetune_loads_the_tuned_model_once_and_writes_its_card_once(
    db_settings: PesbenchSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chgnet.model import CHGNet

    data = TrainingSet()
    _rocksalt(data, "MgO", ["Mg", "O"], 4.26)
    _rocksalt(data, "CaO", ["Ca", "O"], 4.8)
    files: list[str] = []
    from_file = CHGNet.from_file

    def counted(path: str, **kwargs: object) -> CHGNet:
        files.append(path)
        return from_file(path, **kwargs)

    monkeypatch.setattr(CHGNet, "from_file", counted)
    cards: list[Path] = []
    write_text = Path.write_text

    def write(path: Path, text: str, *args: object, **kwargs: object) -> int:
        if path.suffix == ".json" and path.parent == db_settings.models_path:
            cards.append(path)
        return write_text(path, text, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "write_text", write)
    maker = FineTuneMaker(epochs=1, batch_size=3, val_materials=[], test_materials=["CaO"])
    doc = run_finetune(maker, data=data, settings=db_settings)
    checkpoint = db_settings.models_path / doc.checkpoint
    tuned_loads = [f for f in files if Path(f).parent == db_settings.models_path]
    assert tuned_loads == [str(checkpoint)]  # saved, loaded once: sanity energies and test
    assert cards == [model_card_path(checkpoint)]  # written once, with the held-out metrics
    assert doc.after is not None
    assert doc.before is not None
    assert doc.after.model == doc.model_id
    assert doc.before.model == "chgnet-0.3.0"
    assert doc.checkpoint.endswith(f"-{doc.checksum[:10]}.pth.tar")
    monkeypatch.undo()
    assert FineTuneDoc.model_validate_json(model_card_path(checkpoint).read_text()) == doc
    tuned = load_model(doc.model_id, settings=db_settings)  # its sanity check passes
    assert tuned.expected_energies == doc.sanity_energies
    assert tuned.info.checksum == doc.checksum
