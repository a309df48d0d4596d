"""Bad input to every command: one line saying what is wrong, a non-zero exit, no traceback.

Each case runs the command in-process (``CliRunner`` against the typer app) and reads what
the user would see: the command's own output, plus the line :func:`pesbench.cli.main.main`
prints for an exception that leaves the app. Commands left out (``UNCOVERED``, checked by
:func:`test_every_command_has_a_bad_input_case`): ``demo`` (its only input is the machine,
and it runs DFT) and ``models`` (no input but ``--json``); ``doctor``'s checks beyond the
settings need the machine, not an input.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure
from typer.testing import CliRunner

from pesbench.cli.main import app, error_line, exit_code, main
from pesbench.settings import override_settings, reset_settings

runner = CliRunner()

EMT = "ase:ase.calculators.emt.EMT"  # knows Al Cu Ag Au Ni Pd Pt H C N O only
UNREACHABLE = "mongodb://127.0.0.1:1/"
GOOD_SPEC = "name: good\nstructures: [Cu.cif]\ncategories: {surface: {}}\nmodels: [chgnet-0.3.0]\n"


@dataclass(frozen=True)
class Case:
    """One bad input: the command line, the message expected on one line, the exit code.

    ``args`` may hold ``{d}``, the folder of the input files. ``db`` is ``None`` (no
    database touched), ``"unreachable"`` (PESBENCH_DB_URI names a closed port) or
    ``"real"`` (the session's mongod, an empty database of the test's own).
    """

    args: tuple[str, ...]
    message: str  # a regular expression searched for in single lines of what is printed
    code: int = 2
    db: str | None = None
    env: dict[str, str] = field(default_factory=dict)


def _case(
    name: str, args: str, message: str, code: int = 2, db: str | None = None, **kwargs: object
) -> object:
    marks = kwargs.pop("marks", ())
    case = Case(tuple(args.split()), message, code, db, **kwargs)  # type: ignore[arg-type]
    return pytest.param(case, id=name, marks=marks)


_ROOT = getattr(os, "geteuid", lambda: 1)() == 0

CASES = [
    # predict: the disordered CIF and too-close atoms; files; unknown elements
    _case(
        "predict-disordered",
        f"predict {{d}}/disordered.cif -m {EMT}",
        r"disordered\.cif: disordered structure: 1 site\(s\) with partial occupancy",
    ),
    _case(
        "predict-close-atoms",
        f"predict {{d}}/close.cif -m {EMT}",
        r"close\.cif: overlapping atoms: Cu0 and Cu1 are 0\.040 Å apart .*--allow-close-atoms",
    ),
    _case(
        "predict-every-bad-file-at-once",
        f"predict {{d}}/disordered.cif {{d}}/close.cif {{d}}/empty.cif -m {EMT}",
        r"disordered\.cif: disordered.*close\.cif: overlapping atoms.*empty\.cif: empty file",
    ),
    _case("predict-empty-file", f"predict {{d}}/empty.cif -m {EMT}", r"empty\.cif: empty file"),
    _case(
        "predict-garbage-file",
        f"predict {{d}}/garbage.cif -m {EMT}",
        r"garbage\.cif: cannot be read as a structure",
    ),
    _case(
        "predict-unreadable-file",
        f"predict {{d}}/unreadable.cif -m {EMT}",
        r"unreadable\.cif: cannot be read as a structure: .*Permission denied",
        marks=pytest.mark.skipif(_ROOT, reason="root reads a file of mode 000"),
    ),
    _case(
        "predict-missing-file",
        f"predict {{d}}/nothere.cif -m {EMT}",
        r"Invalid value for 'files': file",
    ),
    _case("predict-unknown-model", "predict {d}/Cu.cif -m mace-nowhere", r"no MACE model file"),
    _case(
        "predict-element-unknown-to-model-only-that-row-fails",
        f"predict {{d}}/Si.cif {{d}}/Cu.cif -m {EMT}",
        r"^failed .*Si\.cif: NotImplementedError: No EMT-potential for Si$",
        code=0,
    ),
    _case(
        "predict-element-unknown-to-model-alone",
        f"predict {{d}}/Si.cif -m {EMT}",
        r"^failed .*Si\.cif: NotImplementedError: No EMT-potential for Si$",
        code=1,
    ),
    # generate
    _case(
        "generate-close-atoms",
        "generate {d}/close.cif -c surface -o {d}/out",
        r"no structure generated; first problem: .*close\.cif: overlapping atoms: Cu0 and Cu1",
    ),
    _case(
        "generate-unknown-category",
        "generate {d}/Cu.cif -c surfce -o {d}/out",
        r"unknown category 'surfce' \(did you mean 'surface'\?\)",
    ),
    _case(
        "generate-unknown-parameter",
        "generate {d}/Cu.cif -c surface -o {d}/out --set max_indx=1",
        r"max_indx",
    ),
    _case(
        "generate-bad-assignment",
        "generate {d}/Cu.cif -c surface -o {d}/out --set max_index",
        r"--set expects key=value, got 'max_index'",
    ),
    _case(
        "generate-bad-format",
        "generate {d}/Cu.cif -c surface -o {d}/out --format xyz",
        r"--format must be one of extxyz, cif, not 'xyz'",
    ),
    _case(
        "generate-empty-file",
        "generate {d}/empty.cif -c surface -o {d}/out",
        r"no structure generated; first problem: .*empty\.cif: empty file",
    ),
    # property (refused before any relaxation)
    _case(
        "property-unknown-category",
        "property surfaces {d}/Cu.cif -m chgnet-0.3.0",
        r"unknown category 'surfaces'; choose one of",
    ),
    _case(
        "property-model-and-dft",
        "property surface {d}/Cu.cif -m chgnet-0.3.0 --dft PBE",
        r"give exactly one of --model ID and --dft FUNCTIONAL",
    ),
    _case(
        "property-disordered",
        "property surface {d}/disordered.cif -m chgnet-0.3.0",
        r"disordered\.cif: disordered structure",
    ),
    # run / submit: the campaign spec
    _case(
        "run-misspelt-category-unknown-model-missing-file",
        "run {d}/three.yaml --dry-run",
        r"three\.yaml: categories: unknown category 'surfce'.*models: unknown model "
        r"'chgnet-9\.9\.9'.*structures: file\(s\) not found: nothere\.cif",
    ),
    _case("run-malformed-yaml", "run {d}/malformed.yaml --dry-run", r"not valid YAML at line"),
    _case(
        "run-unknown-keys",
        "run {d}/unknown_keys.yaml --dry-run",
        r"unknown_keys\.yaml: modles: unknown key; foo: unknown key",
    ),
    _case("run-empty-spec", "run {d}/empty.yaml --dry-run", r"empty\.yaml: empty file"),
    _case(
        "run-spec-not-a-mapping",
        "run {d}/list.yaml --dry-run",
        r"list\.yaml: expected a mapping of keys",
    ),
    _case("run-missing-spec", "run {d}/nothere.yaml", r"campaign spec not found: .*nothere"),
    _case(
        "run-unreadable-spec",
        "run {d}/unreadable.yaml --dry-run",
        r"unreadable\.yaml: cannot be read: .*Permission denied",
        marks=pytest.mark.skipif(_ROOT, reason="root reads a file of mode 000"),
    ),
    _case(
        "run-binary-spec",
        "run {d}/garbage.cif --dry-run",
        r"garbage\.cif: cannot be read: .*codec can't decode",
    ),
    _case("submit-malformed-yaml", "submit {d}/malformed.yaml", r"not valid YAML at line"),
    # the database cannot be reached: one line within seconds, with the fix
    *(
        _case(
            f"{args.split()[0]}-database-unreachable",
            args,
            rf"the database at {UNREACHABLE} \(PESBENCH_DB_URI\) cannot be reached within "
            r"3 s: start that server or correct PESBENCH_DB_URI",
            db="unreachable",
        )
        for args in (
            "status quickstart",
            "resume quickstart",
            "query",
            "report quickstart",
            "worker -c dft",
            "run {d}/good.yaml",
            "submit {d}/good.yaml --no-check",
            "finetune",
            "fit-scale",
        )
    ),
    _case("db-status-unreachable", "db status", r"not answering", code=1, db="unreachable"),
    _case("db-start-with-uri", "db start", r"PESBENCH_DB_URI is set", db="unreachable"),
    _case("db-stop-with-uri", "db stop", r"PESBENCH_DB_URI is set", db="unreachable"),
    # a database that answers, but not the names given
    _case("status-unknown-campaign", "status nosuch", r"no campaign named 'nosuch'", db="real"),
    _case(
        "resume-unknown-campaign",
        "resume nosuch",
        r"no submitted campaign named 'nosuch'",
        db="real",
    ),
    _case(
        "query-unknown-level",
        "query --level materials",
        r"unknown level 'materials': material, structure or properties",
    ),
    _case(
        "fit-scale-no-references",
        "fit-scale --campaign nosuch",
        r"no successful PBE references",
        db="real",
    ),
    _case(
        "finetune-bad-atomref",
        "finetune --atomref bogus",
        r"--atomref: expected one of refit, frozen, trainable, scratch, not 'bogus'",
    ),
    # folders, workers, templates
    _case(
        "import-unknown-functional",
        "import {d}/one.xyz --dataset d --functional B3LYP",
        r"--functional: unknown functional 'B3LYP'; known: PBE, PBE\+U, r2SCAN",
    ),
    _case(
        "import-missing-file", "import {d}/nothere.xyz --dataset d", r"not found: .*nothere\.xyz"
    ),
    _case(
        "import-every-record-bad",
        "import {d}/molecule.xyz --dataset d --functional PBE",
        r"nothing was imported: every record was bad",
        db="real",
    ),
    _case(
        "import-database-unreachable",
        "import {d}/one.xyz --dataset d --functional PBE",
        r"cannot be reached within 3 s",
        db="unreachable",
    ),
    _case(
        "import-vasp-no-run",
        "import-vasp {d}/novasp --dry-run",
        r"no VASP run could be parsed from the folders given",
    ),
    _case(
        "worker-unknown-category",
        "worker -c gpu",
        r"Invalid value for '?--category'?: dft or mlip",
    ),
    _case(
        "fworker-init-unknown-scheduler",
        "fworker init -c dft -s lsf -d {d}/fw",
        r"Invalid value for '?--scheduler'?: slurm, pbs or none",
    ),
    _case("init-existing-file", "init {d}/good.yaml", r"good\.yaml exists; use --force", code=1),
    _case(
        "doctor-malformed-uri",
        "doctor",
        r"PESBENCH_DB_URI",
        env={"PESBENCH_DB_URI": "notaurl"},
    ),
]


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """A folder of good and bad input files."""
    folder = tmp_path / "in"
    folder.mkdir()
    Structure(Lattice.cubic(5.43), ["Si", "Si"], [[0, 0, 0], [0.25, 0.25, 0.25]]).to(
        filename=str(folder / "Si.cif")
    )
    fcc = [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    Structure(Lattice.cubic(3.61), ["Cu"] * 4, fcc).to(filename=str(folder / "Cu.cif"))
    Structure(Lattice.cubic(4.2), [{"Mg": 0.5, "Ca": 0.5}, "O"], [[0, 0, 0], [0.5, 0.5, 0.5]]).to(
        filename=str(folder / "disordered.cif")
    )
    Structure(Lattice.cubic(4.0), ["Cu", "Cu"], [[0, 0, 0], [0.01, 0, 0]]).to(
        filename=str(folder / "close.cif")
    )
    (folder / "empty.cif").write_text("")
    (folder / "garbage.cif").write_bytes(bytes(range(256)) * 4)
    xyz = '1\n{}Properties=species:S:1:pos:R:3 energy=-1.0 pbc="{}"\nCu 0 0 0\n'
    (folder / "one.xyz").write_text(xyz.format('Lattice="3.6 0 0 0 3.6 0 0 0 3.6" ', "T T T"))
    (folder / "molecule.xyz").write_text(xyz.format("", "F F F"))  # not periodic
    (folder / "good.yaml").write_text(GOOD_SPEC)
    (folder / "three.yaml").write_text(
        "name: bad\nstructures: [Cu.cif, nothere.cif]\ncategories: {surfce: {}}\n"
        "models: [chgnet-9.9.9]\n"
    )
    (folder / "malformed.yaml").write_text("name: [bad\nstructures: Cu.cif\n")
    (folder / "unknown_keys.yaml").write_text(GOOD_SPEC + "modles: [mace-mp-0]\nfoo: 1\n")
    (folder / "empty.yaml").write_text("")
    (folder / "list.yaml").write_text("- name: good\n")
    (folder / "novasp").mkdir()
    for name in ("unreadable.cif", "unreadable.yaml"):
        (folder / name).write_text("x")
        (folder / name).chmod(0)
    return folder


def _invoke(args: list[str]) -> tuple[int, str]:
    """Exit code and text a user of ``pesbench ARGS`` sees (what main() adds included)."""
    result = runner.invoke(app, args)
    text, code = result.output, result.exit_code
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        assert isinstance(result.exception, Exception)
        text += f"error: {error_line(result.exception)}\n"
        code = exit_code(result.exception)
    return code, text


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line(
    case: Case, inputs: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    args = [arg.format(d=inputs) for arg in case.args]
    if case.db == "real":
        request.getfixturevalue("db_settings")  # overrides the settings while the test runs
        code, text = _invoke(args)
    else:
        env = {"PESBENCH_DATA_DIR": str(tmp_path / "data"), "PESBENCH_DEVICE": "cpu"}
        env |= {"PESBENCH_DB_URI": UNREACHABLE} if case.db == "unreachable" else {}
        mp = request.getfixturevalue("monkeypatch")
        for key, value in {**env, **case.env}.items():
            mp.setenv(key, value)
        reset_settings()
        code, text = _invoke(args)
    assert "Traceback" not in text, text
    assert code == case.code, text
    lines = [line for line in text.splitlines() if re.search(case.message, line)]
    assert lines, f"no line matches {case.message!r} in:\n{text}"


def test_main_prints_one_line_for_an_unexpected_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import pesbench.cli.models as models_command

    def broken() -> list[str]:
        raise RuntimeError("the registry is\nbroken")

    monkeypatch.setattr(models_command, "known_model_ids", broken)
    with override_settings(data_dir=tmp_path), pytest.raises(SystemExit) as exited:
        main(["models"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.strip() == (
        "error: RuntimeError: the registry is broken (run with --debug for the traceback)"
    )
    with override_settings(data_dir=tmp_path), pytest.raises(RuntimeError, match="broken"):
        main(["models", "--debug"])  # --debug anywhere on the line: the traceback


def test_main_prints_a_user_error_as_one_line(
    inputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", str(inputs / "three.yaml"), "--dry-run"])
    assert exited.value.code == 2
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    assert "nothere.cif" in lines[0]
    assert "Traceback" not in captured.out + captured.err


UNCOVERED = {
    "demo": "its only input is the machine, and it runs DFT",
    "models": "no input but --json",
}


def test_every_command_has_a_bad_input_case() -> None:
    """The table covers every command of ``pesbench`` but those UNCOVERED says why."""
    import typer

    commands = set(typer.main.get_group(app).list_commands(None))  # type: ignore[arg-type]
    covered = {case.values[0].args[0] for case in CASES}  # type: ignore[attr-defined]
    assert commands - covered == set(UNCOVERED)
