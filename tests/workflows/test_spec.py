from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pesbench.cli import app
from pesbench.workflows.spec import SpecError, load_spec

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["quickstart.yaml", "softening-paper.yaml"])
def test_shipped_examples_are_valid(name: str) -> None:
    spec = load_spec(REPO / "examples" / name)
    assert spec.structures
    assert all(path.is_absolute() and path.is_file() for path in spec.structures)


def _write(tmp_path: Path, **changes: object) -> Path:
    (tmp_path / "Si.cif").write_text((REPO / "examples/structures/Si.cif").read_text())
    spec = {
        "name": "t",
        "structures": ["Si.cif"],
        "categories": {"high_energy": {"n_rattled": 1}},
        "models": ["chgnet-0.3.0"],
    }
    spec.update(changes)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_minimal_spec_gets_defaults(tmp_path: Path) -> None:
    spec = load_spec(_write(tmp_path))
    assert spec.functionals == ["PBE", "r2SCAN"]
    assert spec.chunk_size == 50
    assert spec.resources.dft.cores == 2


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"chunk": 5}, "chunk: unknown key"),
        ({"models": ["chgnet-0.9.9"]}, "unknown model 'chgnet-0.9.9'"),
        ({"models": ["gpt-5"]}, "unknown model id 'gpt-5'"),
        ({"structures": ["absent.cif"]}, "structures: file(s) not found: absent.cif"),
        ({"categories": {"surfaces": {}}}, "unknown category 'surfaces'"),
        ({"categories": {"surface": {"max_idx": 1}}}, "unknown parameter 'max_idx'"),
        ({"functionals": ["LDA"]}, "functionals.0"),
        ({"resources": {"dft": {"walltime": "2h"}}}, "resources.dft.walltime"),
        ({"name": "has space"}, "name:"),
    ],
)
def test_invalid_specs_name_the_problem(tmp_path: Path, changes: dict, message: str) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(_write(tmp_path, **changes))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_init_writes_the_template(tmp_path: Path) -> None:
    target = tmp_path / "c.yaml"
    result = CliRunner().invoke(app, ["init", str(target)])
    assert result.exit_code == 0, result.output
    assert (
        target.read_text()
        == files("pesbench.workflows").joinpath("templates/campaign.yaml").read_text()
    )
    assert CliRunner().invoke(app, ["init", str(target)]).exit_code == 1  # no overwrite
