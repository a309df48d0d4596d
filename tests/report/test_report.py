from __future__ import annotations

import html
import io
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread
from pymatgen.core import Lattice, Structure
from pymongo import MongoClient
from typer.testing import CliRunner

from pesbench.cli.main import app
from pesbench.errors import PesbenchError
from pesbench.report import write_report
from pesbench.schemas.correction import FineTuneDoc, HeldOutMetrics, ScaleFitDoc
from pesbench.schemas.ids import structure_id
from pesbench.schemas.prediction import ModelInfo, PredictionDoc
from pesbench.schemas.reference import ReferenceDoc
from pesbench.schemas.relaxation import RelaxationDoc, RelaxSettings
from pesbench.schemas.structure import HighEnergyDetails, StructureDoc
from pesbench.settings import PesbenchSettings
from pesbench.stores.corrections import save_correction
from pesbench.stores.properties import RelaxationStore

MU = {"Cu": -3.7, "O": -4.9}
SHIFT = {"Cu": -30.0, "O": -12.0}
MODELS = (
    (ModelInfo(model_id="chgnet-0.3.0", name="chgnet", version="0.3.0", checksum="a1",
               functional="PBE"), "PBE", 0.85),
    (ModelInfo(model_id="chgnet-r2scan", name="chgnet", version="r2scan", checksum="b2",
               functional="r2SCAN"), "r2SCAN", 0.95),
)  # fmt: skip


def _bulks() -> list[Structure]:
    cu = Structure(
        Lattice.cubic(3.6), ["Cu"] * 4, [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    )
    cuo = Structure(
        Lattice.cubic(4.2),
        ["Cu", "Cu", "O", "O"],
        [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0], [0, 0.5, 0]],
    )
    cu2o = Structure(
        Lattice.cubic(4.3),
        ["Cu", "Cu", "Cu", "Cu", "O", "O"],
        [
            [0.25] * 3,
            [0.75, 0.75, 0.25],
            [0.75, 0.25, 0.75],
            [0.25, 0.75, 0.75],
            [0, 0, 0],
            [0.5, 0.5, 0.5],
        ],
    )
    return [cu, cuo, cu2o]  # fmt: skip


def populate(settings: PesbenchSettings, campaign: str = "demo", code: str = "gpaw") -> None:
    rng = np.random.default_rng(3)
    structures, refs, preds = [], [], []
    for bulk in _bulks():
        for i in range(3):
            cell = bulk.copy()
            cell.perturb(0.08 + 0.04 * i, min_distance=0.02)
            doc = StructureDoc.from_structure(
                cell, category="high_energy", role="rattled", parent=bulk, generator="test",
                parameters={}, details=HighEnergyDetails(
                    mode="rattled", sample_index=i, sigma_A=0.1,
                    supercell_matrix=((1, 0, 0), (0, 1, 0), (0, 0, 1))),
            )  # fmt: skip
            structures.append(doc)
            n = len(cell)
            comp = cell.composition
            e_gga = sum(comp[el] * mu for el, mu in MU.items()) + rng.normal(0, 0.2) * n
            forces = rng.normal(0, 0.8, size=(n, 3))
            for model, functional, scale in MODELS:
                e = e_gga + (
                    sum(comp[el] * s for el, s in SHIFT.items()) if functional == "r2SCAN" else 0
                )
                ref = ReferenceDoc(
                    structure_id=doc.structure_id,
                    n_atoms=n,
                    energy=e,
                    energy_per_atom=e / n,
                    forces=forces.tolist(),
                    stress=np.zeros((3, 3)).tolist(),
                    functional=functional,
                    code=code,
                    input_hash="x",
                    campaign=campaign,
                )
                refs.append(ref)
                ep = e + rng.normal(0.01, 0.01) * n
                preds.append(PredictionDoc(
                    structure_id=doc.structure_id, n_atoms=n, energy=ep, energy_per_atom=ep / n,
                    forces=(scale * forces + rng.normal(0, 0.02, forces.shape)).tolist(),
                    stress=np.zeros((3, 3)).tolist(), model=model, device="cpu", batch_size=9,
                    seconds=0.01,
                ))  # fmt: skip
    with MongoClient(settings.db_uri) as client:
        db = client[settings.db_name]
        db.structures.insert_many([d.model_dump(mode="json") for d in structures])
        db.references.insert_many([d.model_dump() for d in refs])
        db.predictions.insert_many([d.model_dump() for d in preds])


def test_report_writes_html_with_figures_and_csv(
    db_settings: PesbenchSettings, tmp_path: Path
) -> None:
    populate(db_settings)
    files = write_report("demo", tmp_path / "rep", db_settings)
    page = files.html.read_text()
    assert page.count("data:image/png;base64,") == 5
    assert files.figures == [
        "force parity",
        "energy parity",
        "softening distribution",
        "one-point correction",
        "GGA vs r2SCAN",
    ]
    assert "Not DFT" not in page
    # each model's energy convention, and the softening scales of the models side by side
    assert "<b>chgnet-0.3.0</b>: MP2020-corrected energies" in page
    assert "<b>chgnet-r2scan</b>: raw DFT total energies" in page
    across = pd.read_html(io.StringIO(page.split("Softening scale across models")[1]))[0]
    assert list(across.columns) == ["functional", "formula", "category", "chgnet-0.3.0",
                                    "chgnet-r2scan"]  # fmt: skip
    pbe = pd.to_numeric(across["chgnet-0.3.0"], errors="coerce")  # "–": not paired
    assert pbe.between(0.84, 0.86).sum() == 3
    routes = pd.read_html(io.StringIO(page.split("Routes from GGA to r2SCAN")[1]))[0]
    assert routes["model_id"].tolist() == ["chgnet-r2scan"]
    assert routes["route from GGA"].tolist() == ["transfer learning"]
    assert routes["softening scale (median)"].iloc[0] == pytest.approx(0.95, abs=0.01)
    # the planted shift table is recovered and printed
    assert "Cu -30.000" in page
    assert "O -12.000" in page
    material = pd.read_csv(tmp_path / "rep" / "material.csv")
    scales = dict(
        zip(material["formula"] + material["model_id"], material["softening_scale"], strict=True)
    )
    for formula in ("Cu", "CuO", "Cu2O"):
        assert scales[formula + "chgnet-0.3.0"] == pytest.approx(0.85, abs=0.01)
        assert scales[formula + "chgnet-r2scan"] == pytest.approx(0.95, abs=0.01)
    assert (material["one_point_mae_after"] < material["one_point_mae_before"]).all()
    assert {p.name for p in files.csv} == {"material.csv", "structure.csv", "properties.csv"}
    # properties are relaxed ones only (none in this campaign), never of these single points
    assert "No relaxed property was computed in this campaign." in page
    assert pd.read_csv(tmp_path / "rep" / "properties.csv").empty
    assert "None: fine-tune on this campaign" in page  # no corrected model yet
    assert structure_id(_bulks()[0]) in set(material["material"])
    with pytest.raises(PesbenchError, match="'nothing': it has no successful references"):
        write_report("nothing", tmp_path / "none", db_settings)


def test_report_of_cross_functional_pairs_only_points_to_cross(
    db_settings: PesbenchSettings, tmp_path: Path
) -> None:
    """r2SCAN references and a PBE-trained model: no native pair, so the error says --cross."""
    populate(db_settings)
    with MongoClient(db_settings.db_uri) as client:
        db = client[db_settings.db_name]
        db.references.delete_many({"functional": "PBE"})
        db.predictions.delete_many({"model.functional": "r2SCAN"})
        db.predictions.update_many({}, {"$set": {"campaign": "demo"}})
    with pytest.raises(PesbenchError, match="references are r2SCAN and its models were trained"):
        write_report("demo", tmp_path / "native", db_settings)
    files = write_report("demo", tmp_path / "cross", db_settings, cross_functional=True)
    material = pd.read_csv(tmp_path / "cross" / "material.csv")
    assert set(material["pairing"]) == {"cross"}
    assert files.html.is_file()


def _cu_bulk_relaxations(dft_per_atom: float, model_per_atom: float) -> list[RelaxationDoc]:
    """The Cu bulk relaxed by GPAW at PBE and by chgnet-0.3.0 (energies planted)."""
    bulk = _bulks()[0]
    common = {
        "structure_id": structure_id(bulk),
        "structure": bulk,
        "final_structure": bulk,
        "parent_id": structure_id(bulk),
        "settings": RelaxSettings(relax_cell=True, fmax=0.01, max_steps=100),
        "converged": True,
        "energy": 4 * dft_per_atom,
    }
    return [
        RelaxationDoc(
            relaxation_id="cu-dft", side="PBE (gpaw)", side_kind="dft",
            side_key="dft:gpaw:PBE:x", functional="PBE", energy_per_atom=dft_per_atom, **common,
        ),
        RelaxationDoc(
            relaxation_id="cu-model", side="chgnet-0.3.0", side_kind="model",
            side_key="model:chgnet-0.3.0:a1", functional="PBE",
            energy_per_atom=model_per_atom, **common,
        ),
    ]  # fmt: skip


def test_report_says_how_each_energy_error_is_referenced(
    db_settings: PesbenchSettings, tmp_path: Path
) -> None:
    populate(db_settings)
    with RelaxationStore(db_settings) as store:
        store.upsert(_cu_bulk_relaxations(MU["Cu"], MU["Cu"] + 0.01))
    files = write_report("demo", tmp_path, db_settings)
    page = html.unescape(files.html.read_text())
    assert "each side's own relaxed bulk" in page
    assert "mean offset removed" in page
    assert "Absolute totals are never compared" in page
    structure = pd.read_csv(tmp_path / "structure.csv")
    cu = structure["material"] == structure_id(_bulks()[0])
    pbe = cu & (structure["model_id"] == "chgnet-0.3.0")
    expected = structure["energy_per_atom_error"] - 0.01
    assert structure[pbe]["energy_referenced_error"].tolist() == pytest.approx(
        expected[pbe].tolist(), abs=1e-12
    )
    assert structure[~pbe]["energy_referenced_error"].isna().all()  # no r2SCAN bulks
    material = pd.read_csv(tmp_path / "material.csv")
    how = dict(zip(material["formula"] + " " + material["model_id"],
                   material["energy_referencing"], strict=True))  # fmt: skip
    assert how.pop("Cu chgnet-0.3.0") == "relaxed_bulk"
    assert set(how.values()) == {"mean_offset"}
    row = material[(material["formula"] == "Cu") & (material["model_id"] == "chgnet-0.3.0")]
    assert row["energy_referenced_mae"].item() == pytest.approx(
        expected[pbe].abs().mean(), abs=1e-12
    )


def _finetune(campaign: str, checkpoint: str, before: float, after: float) -> FineTuneDoc:
    metrics = {"n_structures": 4, "force_mae": 0.05}
    return FineTuneDoc(
        model_id=f"chgnet:{checkpoint}", base_model="chgnet-0.3.0", functional="r2SCAN",
        atomref_mode="refit", atomref_before={"Cu": -3.7}, atomref_after={"Cu": -33.7},
        split={"train": ["Cu", "Cu2O"], "val": [], "test": ["CuO"]},
        n_structures={"train": 8, "val": 0, "test": 4}, reference_ids=["r1"],
        campaign=campaign, seed=3, epochs=30, learning_rate=1e-4, batch_size=4,
        loss_weights={"e": 1, "f": 1, "s": 0.1}, device="cpu", train_seconds=60.0,
        checkpoint=checkpoint, checksum="c0ffee", sanity_energies={},
        selected_epoch=12,
        before=HeldOutMetrics(model="chgnet-0.3.0", energy_mae_per_atom=before, **metrics),
        after=HeldOutMetrics(model=f"chgnet:{checkpoint}", energy_mae_per_atom=after, **metrics),
    )  # fmt: skip


def test_report_shows_the_campaigns_corrected_models(
    db_settings: PesbenchSettings, tmp_path: Path
) -> None:
    populate(db_settings)
    tuned = _finetune("demo", "ft-demo.pth.tar", 0.7689, 0.0126)
    save_correction(
        tuned.model_copy(update={"notes": ["Zn (val) is off", "CuO (test) too"]}), db_settings
    )
    save_correction(_finetune("other", "ft-other.pth.tar", 0.5, 0.4), db_settings)
    fit = ScaleFitDoc(
        fit_id="abc123def456", base_model="chgnet-0.3.0", functional="PBE", scale=0.8,
        factor=1.25, anchor_energy_per_atom=-4.0, reference_ids=["r1"], structure_ids=["s1"],
        materials=["Cu"], n_components=12, force_mae_before=0.2, force_mae_after=0.05,
    )  # fmt: skip
    save_correction(fit, db_settings)  # no campaign, and not a model of "demo"
    save_correction(
        fit.model_copy(update={"fit_id": "0123456789ab", "campaign": "demo"}), db_settings
    )
    files = write_report("demo", tmp_path / "rep", db_settings)
    page = files.html.read_text()
    assert "chgnet:ft-demo.pth.tar" in page
    assert "<li>chgnet:ft-demo.pth.tar: Zn (val) is off</li>" in page
    assert "<li>chgnet:ft-demo.pth.tar: CuO (test) too</li>" in page
    assert "ft-other" not in page
    assert "chgnet-0.3.0+scale@0123456789ab" in page
    assert "abc123def456" not in page
    tuned = pd.read_csv(tmp_path / "rep" / "finetunes.csv")
    assert tuned["model_id"].tolist() == ["chgnet:ft-demo.pth.tar"]
    assert tuned["energy_mae_before"].tolist() == pytest.approx([768.9])  # meV/atom
    assert tuned["energy_mae_after"].tolist() == pytest.approx([12.6])
    assert tuned["epoch_kept"].tolist() == ["12/30"]
    assert tuned["test"].tolist() == ["CuO"]
    fits = pd.read_csv(tmp_path / "rep" / "scale_fits.csv")
    assert fits["scale"].tolist() == [0.8]


def test_stand_in_references_are_flagged(db_settings: PesbenchSettings, tmp_path: Path) -> None:
    populate(db_settings, code="chgnet-r2scan (stand-in)")
    result = CliRunner().invoke(app, ["report", "demo", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "report.html").read_text()
    assert "Not DFT" in page
    assert "chgnet-r2scan (stand-in)" in page


def render_screenshot(html: Path, png: Path) -> None:
    """Render ``html`` in headless Chromium into ``png`` (skips or, under CI, fails)."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs Debian's chromium package for the report render test")
        pytest.skip("no chromium on this machine (Debian package 'chromium')")
    subprocess.run(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--window-size=1280,3600", f"--screenshot={png}", html.as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip


def test_report_renders_in_headless_chromium(db_settings: PesbenchSettings, tmp_path: Path) -> None:
    populate(db_settings)
    files = write_report("demo", tmp_path, db_settings)
    shot = tmp_path / "screenshot.png"
    render_screenshot(files.html, shot)
    image = imread(shot)[..., :3]
    assert image.shape[:2] == (3600, 1280)
    # figures drawn: many coloured (non-grey) pixels, not just text on white
    rgb = image.reshape(-1, 3)
    coloured = (rgb.max(axis=1) - rgb.min(axis=1)) > 0.25
    assert coloured.mean() > 0.01, "no figure visible in the rendered page"
    if os.environ.get("KEEP_REPORT_SCREENSHOT"):
        shutil.copy(shot, os.environ["KEEP_REPORT_SCREENSHOT"])
