"""VaspEngine.relax: the inputs it writes, the frames it parses, a side's relaxation."""

from __future__ import annotations

import gzip
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from custodian.vasp.handlers import UnconvergedErrorHandler
from pymatgen.core import Lattice, Structure
from pymatgen.io.vasp import Incar, Poscar, Vasprun
from vasp_data import vasp_reference

from pesbench.engines.vasp import RELAX_HANDLERS, VaspEngine, parse_run_dir
from pesbench.engines.vasp import run as vasp_run
from pesbench.engines.vasp.relax import (
    KBAR_TO_EV_PER_A3,
    cell_criterion,
    outcome_from_run,
    poscar_order,
)
from pesbench.engines.vasp.run import DEFAULT_HANDLERS, ScfUnconvergedErrorHandler
from pesbench.mlip.base import EV_PER_A3_TO_GPA
from pesbench.properties.sides import EngineSide
from pesbench.schemas.ids import structure_id
from pesbench.schemas.relaxation import RelaxSettings
from pesbench.settings import PesbenchSettings
from pesbench.testing import VaspReference, check_inputs, copy_outputs, mock_vasp

SI_ENERGIES = [-17.54951927, -17.54953832, -17.54958326]  # emmet's r2SCAN Si relaxation
SI_SETTINGS = RelaxSettings(relax_cell=True, fmax=0.02, max_steps=98)  # its EDIFFG, NSW
SI_EXCLUDE = (
    "ALGO",  # atomate2's MP r2SCAN static sets Fast; this run had Normal
    "KSPACING",  # 0.22004: from the band gap of a previous run (ours: 0.22)
    "MAGMOM",  # from a previous run
    "LWAVE",  # pesbench keeps no files of a relaxation
    "LCHARG",
)
"""What the INCAR pesbench writes for the mp r2SCAN relaxation of emmet's Si2 may differ in
from emmet's INCAR.orig; every other key it writes (IBRION, ISIF, NSW, EDIFFG, ENCUT, EDIFF,
ISMEAR, SIGMA, METAGGA, ...) must be equal."""


def _vasprun(path: Path) -> Vasprun:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Vasprun(str(path), parse_potcar_file=False, parse_dos=False, parse_eigen=False)


def _copy(src: Path, dest: Path) -> None:
    """Copy ``src`` to ``dest``, gunzipping a .gz."""
    if src.suffix == ".gz":
        with gzip.open(src, "rb") as fin, open(dest, "wb") as fout:
            shutil.copyfileobj(fin, fout)
    else:
        shutil.copyfile(src, dest)


def _oszicar(run: Vasprun) -> str:
    """The ionic lines of an OSZICAR, from the vasprun's ionic steps."""
    lines, previous = [], 0.0
    for i, step in enumerate(run.ionic_steps, start=1):
        free, e0 = step["e_fr_energy"], step["e_0_energy"]
        lines.append(f"{i:4d} F= {free:.8E} E0= {e0:.8E}  d E ={free - previous:.6E}")
        previous = free
    return "\n".join(lines) + "\n"


def _si_reference(tmp_path: Path, fixed: tuple[int, ...] = ()) -> Path:
    """emmet's r2SCAN Si relaxation as an atomate2-style folder (inputs/ + outputs/).

    The inputs are what that run was given (INCAR.orig, POSCAR.orig). The folder has no
    OSZICAR, which custodian's VaspFilesValidator requires: its ionic lines are written
    from the vasprun. With ``fixed``, the reference POSCAR gets selective dynamics: Si's
    forces vanish by symmetry, so the same outputs hold for a run with those atoms fixed.
    """
    src, ref = vasp_reference() / "emmet_Si_r2scan_relax", tmp_path / "ref_si"
    (ref / "inputs").mkdir(parents=True)
    (ref / "outputs").mkdir()
    _copy(src / "INCAR.orig.gz", ref / "inputs" / "INCAR")
    poscar = Poscar.from_file(str(src / "POSCAR.orig.gz"))
    if fixed:
        poscar.selective_dynamics = [[i not in fixed] * 3 for i in range(len(poscar.structure))]
    poscar.write_file(str(ref / "inputs" / "POSCAR"))
    (ref / "inputs" / "POTCAR.spec").write_text("Si\n")
    for name in ("vasprun.xml.gz", "OUTCAR.gz", "CONTCAR.gz"):
        shutil.copyfile(src / name, ref / "outputs" / name)
    oszicar = _oszicar(_vasprun(src / "vasprun.xml.gz"))
    (ref / "outputs" / "OSZICAR").write_text(oszicar)
    return ref


def _from_vasprun(name: str, tmp_path: Path) -> tuple[Path, Vasprun]:
    """A vasprun-only folder as a reference: its initial POSCAR and POTCAR symbols."""
    src = vasp_reference() / name
    path = next(src.glob("vasprun*"))
    run = _vasprun(path)
    ref = tmp_path / f"ref_{name}"
    (ref / "inputs").mkdir(parents=True)
    (ref / "outputs").mkdir()
    Poscar(run.initial_structure).write_file(str(ref / "inputs" / "POSCAR"))
    symbols = [s.split()[1] for s in run.potcar_symbols]
    (ref / "inputs" / "POTCAR.spec").write_text("\n".join(symbols) + "\n")
    shutil.copyfile(path, ref / "outputs" / "vasprun.xml.gz")
    return ref, run


@pytest.fixture
def nio() -> Structure:
    """NiO given O first: pymatgen writes the POSCAR Ni first."""
    return Structure(Lattice.cubic(4.17), ["O", "Ni"], [[0, 0, 0], [0.5, 0.5, 0.5]])


@pytest.mark.parametrize(
    ("preset", "functional"),
    [
        ("matpes", "PBE"),
        ("matpes", "PBE+U"),
        ("matpes", "r2SCAN"),
        ("mp", "PBE+U"),
        ("mp", "r2SCAN"),
    ],
)
def test_relax_inputs_are_the_statics_physics_with_the_relaxation_tags(
    nio: Structure, preset: str, functional: str
) -> None:
    engine = VaspEngine()
    settings = RelaxSettings(fix_indices=(0,), fmax=0.03, max_steps=40)
    vis = engine.relax_input_set(nio, functional, settings, {"preset": preset})
    incar = vis["INCAR"]
    assert (incar["ISIF"], incar["NSW"], incar["EDIFFG"], incar["IBRION"]) == (2, 41, -0.03, 2)
    assert incar["LWAVE"] is False
    # the physics hashed for the side and stored with the relaxation is what runs
    static = engine.input_settings(nio, functional, {"preset": preset})
    assert engine._settings_of(vis) == static
    # the fixed O (input index 0) is the POSCAR's second site, F F F
    assert poscar_order(vis) == [1, 0]
    assert vis["POSCAR"].selective_dynamics == [[True] * 3, [False] * 3]


def test_cell_relaxation_and_single_point_tags(nio: Structure) -> None:
    engine = VaspEngine()
    cell = engine.relax_input_set(
        nio, "PBE", RelaxSettings(relax_cell=True, fmax=0.05, max_steps=3)
    )
    assert (cell["INCAR"]["ISIF"], cell["INCAR"]["NSW"]) == (3, 4)
    assert cell["POSCAR"].selective_dynamics is None  # nothing fixed: no flags
    static = engine.relax_input_set(nio, "PBE", RelaxSettings.static())
    assert (static["INCAR"]["NSW"], static["INCAR"]["IBRION"]) == (0, -1)
    assert "EDIFFG" not in static["INCAR"]


def test_overrides_may_not_set_the_relaxations_own_tags(nio: Structure) -> None:
    engine, settings = VaspEngine(), RelaxSettings(fmax=0.05, max_steps=10)
    for incar in ({"NSW": 5}, {"ediffg": -0.1}, {"ISIF": 3}):
        with pytest.raises(ValueError, match="come from its settings"):
            engine.relax_input_set(nio, "PBE", settings, {"incar": incar})
    with pytest.raises(ValueError, match="does not relax"):
        engine.relax_input_set(nio, "PBE", settings, {"incar": {"IBRION": 0}})
    kept = engine.relax_input_set(nio, "PBE", settings, {"incar": {"IBRION": 1, "LWAVE": True}})
    assert (kept["INCAR"]["IBRION"], kept["INCAR"]["LWAVE"]) == (1, True)
    with pytest.raises(ValueError, match="resolve"):
        engine.relax_input_set(nio, "PBE", RelaxSettings())


def test_a_relaxation_folder_parses_into_frames_in_ase_units() -> None:
    folder = vasp_reference() / "emmet_Si_r2scan_relax"
    outcome = outcome_from_run(folder, SI_SETTINGS)
    raw = _vasprun(folder / "vasprun.xml.gz").ionic_steps
    assert (outcome.converged, outcome.reason, outcome.n_steps) == (True, None, 2)
    assert len(outcome.energies) == len(raw) == 3
    np.testing.assert_allclose(outcome.energies, SI_ENERGIES, atol=1e-8)
    assert outcome.energies[-1] < outcome.energies[0]
    assert outcome.energies[-1] == pytest.approx(parse_run_dir(folder).energy, abs=1e-8)
    # stress: the static's GPa (tensile +) once outcome_to_doc converts eV/Å³ -> GPa
    gpa = np.asarray(outcome.stresses[-1]) * EV_PER_A3_TO_GPA
    np.testing.assert_allclose(gpa, parse_run_dir(folder).stress, atol=1e-9)
    # the first cell is compressed: VASP's +2.3 kBar (pressure) is tensile-negative in ASE
    assert raw[0]["stress"][0][0] == pytest.approx(2.315, abs=1e-3)
    assert outcome.stresses[0][0][0] == pytest.approx(-0.2315 / EV_PER_A3_TO_GPA, rel=1e-3)
    assert pytest.approx(-0.1 / 160.21766208) == KBAR_TO_EV_PER_A3
    for frame, step in enumerate(raw):
        np.testing.assert_allclose(outcome.cells[frame], step["structure"].lattice.matrix)
        np.testing.assert_allclose(outcome.positions[frame], step["structure"].cart_coords)


def test_vasps_own_stress_test_stopped_the_si_cell_relaxation() -> None:
    """Zero forces throughout; VASP went on until stress x volume per atom < |EDIFFG|."""
    outcome = outcome_from_run(vasp_reference() / "emmet_Si_r2scan_relax", SI_SETTINGS)
    tests = [
        cell_criterion(np.asarray(s), np.asarray(c), 2)
        for s, c in zip(outcome.stresses, outcome.cells, strict=True)
    ]
    assert tests[0] > 0.02
    assert tests[1] > 0.02
    assert tests[2] < 0.02
    assert outcome.max_force == 0.0


def test_old_vasprun_energies_get_pymatgens_fix() -> None:
    folder = vasp_reference() / "pymatgen_Fe2O3_ggaU_relax"
    raw = _vasprun(next(folder.glob("vasprun*"))).ionic_steps
    assert raw[0]["e_0_energy"] == 0.0  # VASP 5.2 wrote no σ -> 0 energy per ionic step
    outcome = outcome_from_run(folder, RelaxSettings(relax_cell=True, fmax=0.05, max_steps=98))
    assert outcome.converged
    assert all(-66.62 < e < -66.61 for e in outcome.energies)
    assert outcome.energies[-1] == pytest.approx(parse_run_dir(folder).energy, abs=1e-8)


def test_scf_failure_is_not_converged_with_the_reason() -> None:
    folder = vasp_reference() / "custodian_err_unconverged_ggaU_relax"
    outcome = outcome_from_run(folder, RelaxSettings(relax_cell=True, fmax=0.05, max_steps=98))
    assert outcome.converged is False
    assert len(outcome.energies) == 5  # the frames are kept
    assert "SCF not converged within NELM=100" in (outcome.reason or "")
    assert "largest force 3.263 eV/Å" in (outcome.reason or "")
    assert "\n" not in (outcome.reason or "")


def _static_reference(ref: Path, structure: Structure, tmp_path: Path) -> Path:
    """The final single point's reference: the relaxed POSCAR, the same outputs."""
    static = tmp_path / "ref_si_static"
    shutil.copytree(ref / "outputs", static / "outputs")
    (static / "inputs").mkdir()
    Poscar(structure).write_file(str(static / "inputs" / "POSCAR"))
    (static / "inputs" / "POTCAR.spec").write_text("Si\n")
    return static


def test_engine_side_relaxes_si_through_custodian_into_a_relaxation_doc(tmp_path: Path) -> None:
    ref = _si_reference(tmp_path)
    structure = Poscar.from_file(str(ref / "inputs" / "POSCAR")).structure
    final = _vasprun(ref / "outputs" / "vasprun.xml.gz").final_structure
    static = _static_reference(ref, final, tmp_path)
    engine = VaspEngine()
    side = EngineSide(engine, "r2SCAN", overrides={"preset": "mp"}, workdir=tmp_path / "runs")
    references = {
        "r2SCAN": VaspReference(
            ref, checks=("incar", "poscar", "potcar"), incar_exclude=SI_EXCLUDE
        ),
        # EngineSide ends a cell relaxation with a single point of the relaxed cell
        f"{structure_id(final)}:r2SCAN": VaspReference(static, checks=("poscar", "potcar")),
    }
    with mock_vasp(references) as fake:
        doc = side.relax(structure, SI_SETTINGS)
    assert [key for key, _ in fake.calls] == list(references)
    (_, run_dir), (_, static_dir) = fake.calls
    assert (run_dir / "custodian.json").is_file()
    incar = Incar.from_file(str(run_dir / "INCAR"))
    assert (incar["ISIF"], incar["NSW"], incar["EDIFFG"], incar["IBRION"]) == (3, 99, -0.02, 2)
    incar = Incar.from_file(str(static_dir / "INCAR"))
    assert (incar["NSW"], incar["IBRION"], "EDIFFG" in incar) == (0, -1, False)
    assert doc.status == "success", doc.failure_reason
    assert (doc.converged, doc.n_steps, len(doc.frames)) == (True, 2, 3)
    assert doc.final_single_point
    np.testing.assert_allclose(doc.frames.energies, SI_ENERGIES, atol=1e-8)
    assert doc.energy == pytest.approx(SI_ENERGIES[-1], abs=1e-8)
    np.testing.assert_allclose(doc.stress, parse_run_dir(ref / "outputs").stress, atol=1e-9)
    assert doc.final_structure is not None
    np.testing.assert_allclose(doc.final_structure.lattice.matrix, final.lattice.matrix)
    assert doc.input_settings == engine.input_settings(structure, "r2SCAN", {"preset": "mp"})
    assert doc.side_kind == "dft"


def test_fixed_atoms_reach_vasp_as_selective_dynamics(tmp_path: Path) -> None:
    ref = _si_reference(tmp_path, fixed=(0,))
    structure = Poscar.from_file(str(ref / "inputs" / "POSCAR")).structure
    reference = VaspReference(ref, checks=("incar", "poscar", "potcar"), incar_exclude=SI_EXCLUDE)
    engine, settings = VaspEngine(), SI_SETTINGS.model_copy(update={"fix_indices": (0,)})
    with mock_vasp({"r2SCAN": reference}):
        good = engine.relax(
            structure, "r2SCAN", tmp_path / "good", settings=settings, overrides={"preset": "mp"}
        )
        wrong = settings.model_copy(update={"fix_indices": (1,)})
        bad = engine.relax(
            structure, "r2SCAN", tmp_path / "bad", settings=wrong, overrides={"preset": "mp"}
        )
    assert good.converged, good.reason
    assert bad.converged is False
    assert "custodian stopped" in (bad.reason or "")
    assert "selective dynamics of site" in (tmp_path / "bad" / "std_err.txt").read_text()


def test_exhausted_steps_fail_with_the_largest_force_frames_in_input_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Fe2O3 folder has only a vasprun (custodian's validators want more): the one run
    function is patched with a plain check-and-copy."""
    ref, run = _from_vasprun("pymatgen_Fe2O3_ggaU_relax", tmp_path)
    handlers = []

    def fake_run(run_dir: Path, **kwargs: object) -> None:
        handlers.append(kwargs["handlers"])
        check_inputs(ref, run_dir, checks=("poscar", "potcar"))
        copy_outputs(ref, run_dir)

    monkeypatch.setattr(vasp_run, "run_vasp", fake_run)
    initial = run.initial_structure
    order = [*range(4, 10), *range(4)]  # O first: pymatgen writes the POSCAR Fe first
    structure = Structure.from_sites([initial[i] for i in order])
    settings = RelaxSettings(relax_cell=True, fmax=0.01, max_steps=2)  # NSW = 3 = its steps
    outcome = VaspEngine().relax(
        structure, "PBE+U", tmp_path / "run", settings=settings, overrides={"preset": "mp"}
    )
    assert handlers == [RELAX_HANDLERS]
    assert Incar.from_file(str(tmp_path / "run" / "INCAR"))["NSW"] == 3
    assert outcome.converged is False
    reason = outcome.reason or ""
    assert reason.startswith("not converged in 2 VASP ionic steps (NSW=3): largest force 0.014")
    assert "cell stress x volume per atom 0.041 eV" in reason
    np.testing.assert_allclose(outcome.positions[0], structure.cart_coords, atol=1e-6)
    first = np.asarray(run.ionic_steps[0]["forces"])
    np.testing.assert_allclose(outcome.forces[0], first[order])
    assert outcome.max_force == pytest.approx(0.0135, abs=1e-4)


def test_custodian_corrects_an_unconverged_scf_but_not_an_unfinished_relaxation(
    tmp_path: Path,
) -> None:
    """RELAX_HANDLERS: atomate2's, with UnconvergedErrorHandler checking the SCF only."""
    assert [type(h) for h in RELAX_HANDLERS] == [
        ScfUnconvergedErrorHandler if type(h) is UnconvergedErrorHandler else type(h)
        for h in DEFAULT_HANDLERS
    ]
    scf = vasp_reference() / "custodian_err_unconverged_ggaU_relax"
    _copy(scf / "vasprun.xml.electronic.gz", tmp_path / "vasprun.xml")
    assert ScfUnconvergedErrorHandler().check(str(tmp_path))
    # emmet's Si relaxation as if NSW had been 3: ionically unconverged for custodian
    with gzip.open(vasp_reference() / "emmet_Si_r2scan_relax" / "vasprun.xml.gz", "rt") as f:
        text = f.read()
    nsw = '<i type="int" name="NSW">    99</i>'
    assert text.count(nsw) == 2  # the echoed INCAR and the parameters
    ionic = tmp_path / "ionic"  # another path: custodian caches a vasprun by its path
    ionic.mkdir()
    (ionic / "vasprun.xml").write_text(text.replace(nsw, nsw.replace("99", " 3")))
    assert UnconvergedErrorHandler().check(str(ionic))  # custodian would continue it
    assert not ScfUnconvergedErrorHandler().check(str(ionic))


def test_missing_vasp_setup_fails_the_relaxation_naming_the_setting(
    nio: Structure, tmp_path: Path
) -> None:
    engine = VaspEngine(PesbenchSettings(vasp_cmd="no-such-vasp_std", data_dir=tmp_path))
    outcome = engine.relax(nio, "PBE", tmp_path / "run", settings=SI_SETTINGS)
    assert outcome.converged is False
    assert outcome.energies == []
    assert "PESBENCH_VASP_CMD" in (outcome.reason or "")
    assert (tmp_path / "run" / "POSCAR").is_file()
    with pytest.raises(ValueError, match="out of range"):
        engine.relax(
            nio,
            "PBE",
            tmp_path / "x",
            settings=SI_SETTINGS.model_copy(update={"fix_indices": (2,)}),
        )
