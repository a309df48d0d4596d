"""The campaign spec: a YAML file validated by pydantic, every problem named by its key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pesbench.engines.base import ENGINES, is_engine_name
from pesbench.errors import PesbenchError
from pesbench.mlip.ids import CHGNET_VERSIONS, parse_model_id
from pesbench.schemas.base import Functional
from pesbench.structures.registry import resolve_params

__all__ = ["CampaignSpec", "DFTSpec", "PropertiesSpec", "Resources", "SpecError", "load_spec"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


class SpecError(PesbenchError):
    """The campaign spec is invalid; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class Resources(_Strict):
    """What one job of a kind asks the scheduler for."""

    cores: int = Field(default=1, ge=1, description="Cores (MPI ranks for DFT).")
    walltime: str = Field(default="01:00:00", description="Wall time per job, HH:MM:SS.")
    queue: str | None = Field(default=None, description="Partition / queue.")
    account: str | None = Field(default=None, description="Account to charge.")
    gpus: int = Field(default=0, ge=0, description="GPUs per job.")

    @field_validator("walltime")
    @classmethod
    def _check_walltime(cls, value: str) -> str:
        if not re.fullmatch(r"(\d+-)?\d{1,3}:\d{2}:\d{2}", value):
            raise ValueError("expected HH:MM:SS or D-HH:MM:SS")
        return value


class ResourceSpec(_Strict):
    """Resources per job kind: DFT jobs on CPU workers, uMLIP jobs on GPU workers."""

    dft: Resources = Field(default_factory=lambda: Resources(cores=2))
    mlip: Resources = Field(default_factory=lambda: Resources())


class DFTSpec(_Strict):
    """The DFT engine of the references and its overrides."""

    engine: str | None = Field(
        default=None, description="DFT engine (gpaw, vasp); None: the dft_engine setting."
    )
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="Engine input overrides (cutoff, k-point density ...)."
    )
    timeout_s: float | None = Field(
        default=None,
        gt=0,
        description="Wall-time limit of one DFT run (s); None: the dft_timeout_s setting.",
    )

    @field_validator("engine")
    @classmethod
    def _known_engine(cls, value: str | None) -> str | None:
        if value is not None and not is_engine_name(value):
            known = ", ".join(sorted(ENGINES))
            raise ValueError(f"unknown DFT engine {value!r}; known: {known}, or module:Class")
        return value


def _gga() -> list[Functional]:
    return ["PBE"]


class PropertiesSpec(_Strict):
    """Properties from relaxed geometries: each side (DFT, every model) relaxes its own."""

    categories: dict[str, dict[str, Any]] = Field(
        min_length=1,
        description="Category -> generator parameters of the property calculation ({}: "
        "defaults); the structures are regenerated from each side's relaxed bulk.",
    )
    functionals: list[Functional] = Field(
        default_factory=_gga,
        min_length=1,
        description="DFT levels of the DFT side (each model is compared with its own).",
    )
    fmax: float | None = Field(
        default=None, gt=0, description="Force threshold, eV/Å (default: relax_fmax setting)."
    )
    max_steps: int | None = Field(
        default=None, ge=1, description="Most optimizer steps (default: relax_steps setting)."
    )

    @field_validator("categories")
    @classmethod
    def _check_categories(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for category, params in value.items():
            resolve_params(category, params or {})  # unknown names and bad values raise
        return {category: dict(params or {}) for category, params in value.items()}


def _default_functionals() -> list[Functional]:
    return ["PBE", "r2SCAN"]


class CampaignSpec(_Strict):
    """A campaign: which bulks, which categories, which functionals and models.

    Or, with ``dataset``, an imported dataset (``pesbench import``) as the reference side:
    its references at the spec's functionals are the structures, nothing is generated and
    no DFT runs; ``structures``, ``categories`` and ``properties`` are then not given.
    """

    name: str = Field(description="Campaign name: letters, digits, '.', '_', '-'.")
    description: str = Field(default="", description="Free text.")
    structures: list[Path] = Field(
        default_factory=list,
        description="Bulk structure files (CIF, POSCAR, JSON, ...), relative to the spec "
        "(at least one, unless ``dataset`` is given).",
    )
    categories: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Category name -> generator parameters (empty: defaults); at least "
        "one, unless ``dataset`` is given.",
    )
    dataset: str | None = Field(
        default=None,
        description="An imported dataset (``pesbench import --dataset``) whose references "
        "are the DFT side: no generation, no DFT jobs.",
    )
    dataset_version: str | None = Field(
        default=None, description="With ``dataset``: only this version (None: every version)."
    )
    max_per_category: int | None = Field(
        default=None,
        ge=1,
        description="Keep at most this many structures per material and category.",
    )
    functionals: list[Functional] = Field(
        default_factory=_default_functionals,
        description="DFT levels; [] for a uMLIP-only campaign (predictions, no references).",
    )
    dft: DFTSpec = Field(default_factory=lambda: DFTSpec())
    models: list[str] = Field(
        default_factory=lambda: ["chgnet-0.3.0"], min_length=1, description="uMLIP model ids."
    )
    properties: PropertiesSpec | None = Field(
        default=None,
        description="Relaxed properties per category on the DFT side and every model "
        "(none by default).",
    )
    chunk_size: int = Field(default=50, ge=1, description="Structures per prediction job.")
    seed: int = Field(default=0, description="Random seed of the generators.")
    resources: ResourceSpec = Field(default_factory=lambda: ResourceSpec())
    source: Path | None = Field(
        default=None, exclude=True, description="The file it was read from."
    )

    @model_validator(mode="after")
    def _structures_or_dataset(self) -> CampaignSpec:
        if self.dataset is None:
            missing = [key for key in ("structures", "categories") if not getattr(self, key)]
            if missing:
                raise ValueError(
                    f"{' and '.join(missing)}: at least one needed (or a 'dataset' of imported "
                    "references)"
                )
            if self.dataset_version is not None:
                raise ValueError("dataset_version: only with 'dataset'")
            return self
        given = [key for key in ("structures", "categories", "properties") if getattr(self, key)]
        if given:
            raise ValueError(
                f"{', '.join(given)}: not with 'dataset' (its references are the structures)"
            )
        return self

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("use 1-64 letters, digits, '.', '_' or '-'")
        return value

    @field_validator("functionals", "models")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("listed twice")
        return value

    @field_validator("models")
    @classmethod
    def _check_models(cls, value: list[str]) -> list[str]:
        for model_id in value:
            spec = parse_model_id(model_id)  # raises with the grammar
            if spec.family == "chgnet" and spec.path is None and spec.name not in CHGNET_VERSIONS:
                raise ValueError(
                    f"unknown model {model_id!r}: CHGNet ships {', '.join(CHGNET_VERSIONS)}"
                )
        return value

    @field_validator("categories")
    @classmethod
    def _check_categories(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for category, params in value.items():
            resolve_params(category, params or {})  # unknown names and bad values raise
        return {category: dict(params or {}) for category, params in value.items()}


def load_spec(path: Path | str) -> CampaignSpec:
    """Read and validate a campaign YAML file; structure paths become absolute.

    Raises
    ------
    SpecError
        Unreadable or empty file, invalid YAML, unknown keys, bad values, unknown
        categories, parameters or models, and missing structure files: every problem of
        the file at once, each named with its key.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise SpecError(f"campaign spec not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise SpecError(f"{path}: not valid YAML{where}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: cannot be read: {exc}") from None
    if raw is None:
        raise SpecError(f"{path}: empty file; `pesbench init` writes a template")
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: expected a mapping of keys (name, structures, categories, ...)")
    problems = []
    try:
        spec = CampaignSpec.model_validate(raw)
    except ValidationError as exc:
        problems.append(_describe(exc))
    except PesbenchError as exc:  # raised inside a validator by a registry
        problems.append(str(exc))
    missing = _missing_files(raw.get("structures"), path.parent)
    if missing:
        problems.append(f"structures: file(s) not found: {', '.join(missing)}")
    if problems:
        raise SpecError(f"{path}: {'; '.join(problems)}")
    resolved = [(path.parent / file).resolve() for file in spec.structures]
    return spec.model_copy(update={"structures": resolved, "source": path.resolve()})


def _missing_files(structures: Any, folder: Path) -> list[str]:
    """The listed structure files (relative to ``folder``) that do not exist."""
    if not isinstance(structures, list):
        return []  # a wrong type is a validation error of its own
    names = [str(item) for item in structures if isinstance(item, str | Path)]
    return [name for name in names if not (folder / name).resolve().is_file()]


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        key = ".".join(str(x) for x in err["loc"]) or "(top level)"
        if not err["loc"] and err["type"] == "value_error":  # names its keys itself
            parts.append(err["msg"].removeprefix("Value error, "))
        elif err["type"] == "extra_forbidden":
            parts.append(f"{key}: unknown key")
        elif err["type"] == "missing":
            parts.append(f"{key}: required")
        else:
            parts.append(f"{key}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)
