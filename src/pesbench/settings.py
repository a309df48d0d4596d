"""Settings: one pydantic-settings class, read lazily.

Every setting can come from, highest precedence first:

1. keyword arguments (``PesbenchSettings(db_name="x")``, ``override_settings(...)``);
2. environment variables ``PESBENCH_<NAME>`` (``PESBENCH_DB_URI``, ...);
3. a YAML file named by ``PESBENCH_CONFIG`` whose keys are the lower-case names
   (``db_uri: mongodb://...``);
4. the defaults below.

Unknown keys (a ``PESBENCH_*`` variable or a YAML key that is no setting) and malformed
values fail with :class:`~pesbench.errors.SettingsError`, a one-line message naming the key
where it was set. Nothing is read at import time: call :func:`get_settings`.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import platformdirs
import yaml
from pydantic import Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from pesbench.errors import SettingsError

__all__ = [
    "ENV_PREFIX",
    "PesbenchSettings",
    "get_settings",
    "override_settings",
    "redact_uri",
    "reset_settings",
]

ENV_PREFIX = "PESBENCH_"
CONFIG_ENV = ENV_PREFIX + "CONFIG"
_IMPORT_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")
"""``module:Class``, e.g. ``pesbench.testing.emt:EmtEngine``."""
_MONGO_DB_NAME_FORBIDDEN = re.compile(r'[/\\. "$*<>:|?]')


def _default_data_dir() -> Path:
    return platformdirs.user_data_path("pesbench", appauthor=False)


class PesbenchSettings(BaseSettings):
    """All of pesbench's configuration; see the module docstring for where it is read from."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        env_ignore_empty=True,
        validate_default=True,
    )

    config: Path | None = Field(
        None,
        description="YAML file with further settings (set it as PESBENCH_CONFIG).",
        exclude=True,
    )
    db_uri: str | None = Field(
        None,
        description=(
            "MongoDB connection URI (mongodb://... or mongodb+srv://...). Unset: pesbench "
            "runs its own private mongod under data_dir."
        ),
    )
    db_name: str = Field("pesbench", description="MongoDB database holding all collections.")
    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Local data: the managed MongoDB server, run folders, reports.",
    )
    model_dir: Path | None = Field(
        None, description="Local uMLIP model files and folders (default: data_dir/models)."
    )
    dft_engine: str = Field(
        "gpaw",
        description="DFT engine for references: gpaw (the local engine), vasp, or an import "
        "path module:Class of your own DFTEngine.",
    )
    dft_cores: int | None = Field(
        None, ge=1, description="MPI ranks for a DFT run (default: all cores of the machine)."
    )
    dft_timeout_s: float | None = Field(
        86400.0,
        gt=0,
        description="Wall-time limit of one local DFT run (s): a run past it is killed with all "
        "its MPI processes and stored as failed (resume reruns it); None: no limit. A "
        "campaign overrides it with dft.timeout_s.",
    )
    mpi_command: str = Field(
        "mpiexec -n {cores}",
        description="MPI launcher prefix for the local engine; {cores} becomes dft_cores.",
    )
    vasp_cmd: str = Field(
        "vasp_std", description="Command that runs VASP, launcher included (e.g. 'srun vasp_std')."
    )
    vasp_gamma_cmd: str = Field("vasp_gam", description="Command that runs the Gamma-only VASP.")
    vasp_potcar_dir: Path | None = Field(
        None, description="Folder of VASP POTCARs in pymatgen's layout (PMG_VASP_PSP_DIR)."
    )
    torch_threads: int | None = Field(
        None, ge=1, description="Torch CPU threads for uMLIP inference (default: torch's choice)."
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="Where uMLIPs run: 'auto' takes CUDA when present."
    )
    mongod_path: Path | None = Field(
        None,
        description="mongod binary for the managed server (default: the one of the 'local' extra).",
    )
    relax_fmax: float = Field(
        0.05,
        gt=0,
        description="Relaxations converge when the force on every free atom (and, for cell "
        "relaxations, ASE's FrechetCellFilter's cell force: stress times volume per atom) "
        "is below this, eV/Å.",
    )
    relax_steps: int = Field(
        500, ge=1, description="Most optimizer steps of a relaxation; more is a failure."
    )

    def __init__(self, **values: Any) -> None:
        _reject_unknown_env()
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise SettingsError(_describe(exc, values)) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments, then environment, then the YAML file (no dotenv, no secrets)."""
        path = _config_path(getattr(init_settings, "init_kwargs", {}))
        return init_settings, env_settings, _YamlSource(settings_cls, path)

    @field_validator("db_uri")
    @classmethod
    def _check_uri(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value.startswith(("mongodb://", "mongodb+srv://")):
            raise ValueError(
                "not a MongoDB URI; expected mongodb://HOST[:PORT] or mongodb+srv://HOST"
            )
        if not value.startswith("mongodb+srv://"):  # srv URIs would need a DNS lookup
            from pymongo.uri_parser import parse_uri

            try:
                parse_uri(value)
            except Exception as exc:  # pymongo raises several types here
                raise ValueError(f"malformed MongoDB URI: {exc}") from None
        return value

    @field_validator("dft_engine")
    @classmethod
    def _check_engine(cls, value: str) -> str:
        value = value.strip()
        if value not in ("gpaw", "vasp") and not _IMPORT_PATH.match(value):
            raise ValueError("expected gpaw, vasp, or an import path module:Class")
        return value

    @field_validator("db_name")
    @classmethod
    def _check_db_name(cls, value: str) -> str:
        if not value or len(value) >= 64 or _MONGO_DB_NAME_FORBIDDEN.search(value):
            raise ValueError(
                "not a MongoDB database name (1-63 characters, none of "
                '/ \\ . space " $ * < > : | ?)'
            )
        return value

    @field_validator("data_dir", "model_dir", "vasp_potcar_dir", "mongod_path", "config")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser()

    @field_validator("mpi_command")
    @classmethod
    def _check_mpi(cls, value: str) -> str:
        try:
            value.format(cores=1)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"only the placeholder {{cores}} is allowed ({exc})") from None
        return value

    @property
    def models_path(self) -> Path:
        """Folder of local model files: ``model_dir`` or ``data_dir/models``."""
        return self.model_dir if self.model_dir is not None else self.data_dir / "models"

    @property
    def mongodb_dir(self) -> Path:
        """Folder of the managed local MongoDB server."""
        return self.data_dir / "mongodb"


class _YamlSource(PydanticBaseSettingsSource):
    """The YAML file: a mapping of lower-case setting names to values."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self.path = path
        self.data = _read_yaml(path) if path is not None else {}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.data)  # unknown keys included: extra="forbid" names them


def _config_path(init_kwargs: dict[str, Any]) -> Path | None:
    raw = init_kwargs.get("config") or os.environ.get(CONFIG_ENV)
    return Path(raw).expanduser() if raw else None


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SettingsError(f"{CONFIG_ENV}: settings file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise SettingsError(f"{CONFIG_ENV}: {path} is not valid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(f"{CONFIG_ENV}: {path} must hold a mapping of setting: value")
    if "config" in data:
        raise SettingsError(f"'config' in {path}: a settings file cannot name another one")
    return {str(key): value for key, value in data.items()}


def _field_names() -> list[str]:
    return list(PesbenchSettings.model_fields)


def _reject_unknown_env() -> None:
    known = {ENV_PREFIX + name.upper() for name in _field_names()}
    for key in sorted(os.environ):
        if key.upper().startswith(ENV_PREFIX) and key.upper() not in known:
            hint = difflib.get_close_matches(key.upper(), sorted(known), n=1)
            tip = f" (did you mean {hint[0]}?)" if hint else f"; known: {', '.join(sorted(known))}"
            raise SettingsError(f"{key}: unknown setting{tip}")


def _where(name: str, init_kwargs: dict[str, Any], path: Path | None) -> str:
    env = ENV_PREFIX + name.upper()
    if name in init_kwargs:
        return f"setting '{name}'"
    if any(key.upper() == env for key in os.environ):
        return env
    if path is not None and path.is_file():
        return f"'{name}' in {path}"
    return env


def redact_uri(text: str) -> str:
    """``text`` with the password of any MongoDB URI in it replaced by ``***``."""
    # a URI's password has '@', '/' and ':' percent-encoded
    return re.sub(r"(//[^:/@\s]+:)[^@/\s]*@", r"\1***@", text)


def _describe(exc: ValidationError, init_kwargs: dict[str, Any]) -> str:
    """One line naming the key of each error of ``exc``."""
    path = _config_path(init_kwargs)
    parts = []
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else "?"
        if err["type"] == "extra_forbidden":
            hint = difflib.get_close_matches(name, _field_names(), n=1)
            tip = f" (did you mean '{hint[0]}'?)" if hint else ""
            where = f"'{name}' in {path}" if path is not None else f"'{name}'"
            parts.append(f"{where}: unknown setting{tip}")
            continue
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(
            f"{_where(name, init_kwargs, path)}: {msg} (got {redact_uri(repr(err['input']))})"
        )
    return "; ".join(parts)


_settings: PesbenchSettings | None = None


def get_settings() -> PesbenchSettings:
    """Return the process-wide settings, reading them on first use."""
    global _settings
    if _settings is None:
        _settings = PesbenchSettings()
    return _settings


def reset_settings() -> None:
    """Forget the cached settings so that the next :func:`get_settings` reads them anew."""
    global _settings
    _settings = None


@contextmanager
def override_settings(**values: Any) -> Iterator[PesbenchSettings]:
    """Use settings built from ``values`` (over env and file) inside the ``with`` block."""
    global _settings
    previous = _settings
    _settings = PesbenchSettings(**values)
    try:
        yield _settings
    finally:
        _settings = previous
