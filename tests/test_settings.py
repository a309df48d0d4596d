from __future__ import annotations

from pathlib import Path

import pytest

from pesbench.errors import SettingsError
from pesbench.settings import PesbenchSettings, get_settings, override_settings


def test_defaults_need_no_configuration() -> None:
    settings = PesbenchSettings()
    assert settings.db_uri is None
    assert settings.db_name == "pesbench"
    assert settings.dft_engine == "gpaw"
    assert settings.models_path == settings.data_dir / "models"
    assert settings.mongodb_dir == settings.data_dir / "mongodb"


def test_environment_sets_values(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PESBENCH_DB_URI", "mongodb://db.example.org:27017/")
    monkeypatch.setenv("PESBENCH_DB_NAME", "campaigns")
    monkeypatch.setenv("PESBENCH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PESBENCH_MODEL_DIR", str(tmp_path / "m"))
    monkeypatch.setenv("PESBENCH_DFT_ENGINE", "vasp")
    monkeypatch.setenv("PESBENCH_VASP_CMD", "srun vasp_std")
    settings = PesbenchSettings()
    assert settings.db_uri == "mongodb://db.example.org:27017/"
    assert settings.db_name == "campaigns"
    assert settings.data_dir == tmp_path
    assert settings.models_path == tmp_path / "m"
    assert settings.dft_engine == "vasp"
    assert settings.vasp_cmd == "srun vasp_std"


def test_yaml_file_is_read_and_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "pesbench.yaml"
    config.write_text("db_name: from_file\ntorch_threads: 3\ndata_dir: ~/pesbench-data\n")
    monkeypatch.setenv("PESBENCH_CONFIG", str(config))
    settings = PesbenchSettings()
    assert settings.db_name == "from_file"
    assert settings.torch_threads == 3
    assert settings.data_dir == Path("~/pesbench-data").expanduser()
    monkeypatch.setenv("PESBENCH_DB_NAME", "from_env")
    assert PesbenchSettings().db_name == "from_env"


def _one_line_error(**kwargs: object) -> str:
    with pytest.raises(SettingsError) as info:
        PesbenchSettings(**kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_malformed_uri_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PESBENCH_DB_URI", "notaurl")
    message = _one_line_error()
    assert message.startswith("PESBENCH_DB_URI:")
    assert "notaurl" in message


def test_uri_password_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PESBENCH_DB_URI", "mongodb://alice:s3cret@host:99999/")
    message = _one_line_error()
    assert "PESBENCH_DB_URI" in message
    assert "s3cret" not in message


def test_unknown_environment_key_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PESBENCH_DB_URL", "mongodb://localhost/")
    message = _one_line_error()
    assert message.startswith("PESBENCH_DB_URL: unknown setting")
    assert "PESBENCH_DB_URI" in message  # the suggestion


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PESBENCH_TORCH_THREADS", "many"),
        ("PESBENCH_TORCH_THREADS", "0"),
        ("PESBENCH_DFT_ENGINE", "qe"),
        ("PESBENCH_DEVICE", "tpu"),
        ("PESBENCH_DB_NAME", "bad.name"),
        ("PESBENCH_MPI_COMMAND", "mpirun -np {nproc}"),
    ],
)
def test_malformed_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    assert _one_line_error().startswith(f"{variable}:")


def test_unknown_and_bad_yaml_keys_name_file_and_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("db_nmae: x\n")
    monkeypatch.setenv("PESBENCH_CONFIG", str(config))
    message = _one_line_error()
    assert f"'db_nmae' in {config}: unknown setting" in message
    assert "db_name" in message
    config.write_text("dft_cores: -2\n")
    assert _one_line_error().startswith(f"'dft_cores' in {config}:")


@pytest.mark.parametrize("content", ["db_name: [unclosed\n", "- a list\n"])
def test_broken_yaml_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: str) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(content)
    monkeypatch.setenv("PESBENCH_CONFIG", str(config))
    assert _one_line_error().startswith("PESBENCH_CONFIG:")


def test_missing_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PESBENCH_CONFIG", str(tmp_path / "absent.yaml"))
    assert "settings file not found" in _one_line_error()


def test_get_settings_is_lazy_and_overridable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PESBENCH_DB_NAME", "first")
    assert get_settings().db_name == "first"
    monkeypatch.setenv("PESBENCH_DB_NAME", "second")
    assert get_settings().db_name == "first"  # cached until reset
    with override_settings(db_name="inner") as inner:
        assert get_settings() is inner
        assert inner.db_name == "inner"
    assert get_settings().db_name == "first"


def test_dft_engine_is_a_known_name_or_an_import_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """As the README says: gpaw, vasp, or module:Class of your own."""
    from pesbench.engines.base import get_engine

    monkeypatch.setenv("PESBENCH_DFT_ENGINE", "pesbench.testing.emt:EmtEngine")
    assert type(get_engine(settings=PesbenchSettings())).__name__ == "EmtEngine"
    monkeypatch.setenv("PESBENCH_DFT_ENGINE", "gpw")
    message = _one_line_error()
    assert message.startswith("PESBENCH_DFT_ENGINE:")
    assert "module:Class (got 'gpw')" in message
