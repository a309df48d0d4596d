"""The model-id grammar: one string names a model everywhere (CLI, Makers, documents).

Forms
-----
``chgnet-<version>``
    CHGNet weights shipped in the chgnet wheel: ``chgnet-0.3.0``, ``chgnet-0.2.0``
    (both trained on MPtrj, PBE/PBE+U) and ``chgnet-r2scan`` (transfer-learned on
    MP-r2SCAN, functional r2SCAN).
``mace-<name>``
    A MACE model: the file ``<name>.model`` or ``mace-<name>.model`` under the model folder
    (setting ``model_dir``, default ``data_dir/models``) when there is one, else a MACE-MP
    foundation model fetched by mace's own loader (``mace-mp-0-small``, ``mace-mp-0-medium``,
    ``mace-mp-0-large``, ``mace-mpa-0-medium``, ``mace-omat-0-medium``,
    ``mace-matpes-r2scan-0``), which needs internet on first use.
``matgl-<name>``
    A matgl model (M3GNet, TensorNet, CHGNet-matgl): the folder ``<name>`` or
    ``matgl-<name>`` under the model folder when there is one, else matgl's own loader
    by name (``matgl-M3GNet-MatPES-PBE-v2025.1-PES``), which needs internet.
``7net-<name>``
    SevenNet weights shipped in the sevenn wheel: ``7net-0``, ``7net-l3i5`` (MPtrj, PBE) and
    the two heads of the multi-fidelity ``7net-mf-0``: ``7net-mf-0:PBE`` and
    ``7net-mf-0:r2SCAN`` (:mod:`pesbench.mlip.sevennet`).
``<family>:<path>``
    A local file or folder for ``chgnet`` (a checkpoint ``.pth.tar``), ``mace`` (a
    ``.model`` file), ``matgl`` (a folder saved by matgl) or ``sevennet`` (a checkpoint
    ``.pth``; ``sevennet:<path>@<head>`` for a multi-fidelity one); a relative path is looked
    up in the current directory, then under the model folder.
``ase:<module>.<Class>``
    Any ASE calculator by import path, e.g. ``ase:ase.calculators.emt.EMT``; its keyword
    arguments are passed separately (``load_model(id, calculator_kwargs={...})``).
``<model id>+scale@<fit-id>``
    Any of the above with the one-parameter softening correction whose fit is stored as
    ``scale-fits/<fit-id>.json`` in the model folder (:mod:`pesbench.mlip.scaled`).

The functional a model was trained on is PBE unless its name says r2SCAN
(``chgnet-r2scan``, ``...-r2SCAN-...``); ``load_model(..., functional=...)`` overrides it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pesbench.mlip.errors import UnknownModelError
from pesbench.schemas.base import Functional
from pesbench.settings import PesbenchSettings, get_settings

__all__ = [
    "CHGNET_VERSIONS",
    "FAMILIES",
    "MACE_DOWNLOADS",
    "SCALE_MARK",
    "ModelSpec",
    "find_local",
    "functional_of",
    "parse_model_id",
]

Family = Literal["chgnet", "mace", "matgl", "sevennet", "ase"]
FAMILIES: tuple[Family, ...] = ("chgnet", "mace", "matgl", "sevennet", "ase")

SCALE_MARK = "+scale@"
"""Separates a model id from the fit id of its softening correction."""
_FIT_ID = re.compile(r"^[0-9a-f]{6,64}$")

CHGNET_VERSIONS = ("0.3.0", "0.2.0", "r2scan")
"""CHGNet weights shipped in its wheel."""

MACE_DOWNLOADS = {
    "mp-0-small": "small",
    "mp-0-medium": "medium",
    "mp-0-large": "large",
    "mpa-0-medium": "medium-mpa-0",
    "omat-0-medium": "medium-omat-0",
    "matpes-r2scan-0": "mace-matpes-r2scan-0",
}
"""``mace-<name>`` -> the ``model`` argument of ``mace.calculators.mace_mp``."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+\-]*$")
_SEVENNET = re.compile(r"^7net-[A-Za-z0-9][A-Za-z0-9_.\-]*(:[A-Za-z0-9]+)?$")
_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$")


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model id."""

    model_id: str
    family: Family
    name: str
    """Version, model name, or import path; for a path form, the file's stem."""
    path: Path | None = None
    """Local file or folder, for the ``<family>:<path>`` form."""
    scale_fit: str | None = None
    """Fit id of the softening correction, for the ``<id>+scale@<fit-id>`` form."""
    head: str | None = None
    """Head of a multi-fidelity model file, for ``sevennet:<path>@<head>``."""

    @property
    def base_id(self) -> str:
        """The model id without its ``+scale@<fit-id>`` suffix."""
        return self.model_id.rpartition(SCALE_MARK)[0] if self.scale_fit else self.model_id


def parse_model_id(model_id: str) -> ModelSpec:
    """Parse ``model_id`` by the grammar of this module's docstring.

    Raises
    ------
    UnknownModelError
        The id follows none of the forms; the message lists them.
    """
    text = model_id.strip()
    base, mark, fit = text.rpartition(SCALE_MARK)
    if mark:
        if not _FIT_ID.match(fit):
            raise UnknownModelError(
                f"model id '{model_id}': expected <model id>+scale@<fit id> (hex digits)"
            )
        inner = parse_model_id(base)
        if inner.scale_fit is not None:
            raise UnknownModelError(f"model id '{model_id}': one +scale@ correction at most")
        return ModelSpec(text, inner.family, inner.name, inner.path, scale_fit=fit, head=inner.head)
    if text.startswith("7net-"):
        if not _SEVENNET.match(text):
            raise UnknownModelError(
                f"model id '{model_id}': expected 7net-<name> or 7net-<name>:<head>, "
                "e.g. 7net-0, 7net-mf-0:r2SCAN"
            )
        return ModelSpec(text, "sevennet", text)
    family, sep, rest = text.partition(":")
    if sep and family in FAMILIES and rest:
        if family == "ase":
            if not _IMPORT_PATH.match(rest):
                raise UnknownModelError(
                    f"model id '{model_id}': expected ase:<module>.<Class>, "
                    "e.g. ase:ase.calculators.emt.EMT"
                )
            return ModelSpec(text, "ase", rest)
        head = None
        if family == "sevennet" and "@" in rest:
            rest, _, head = rest.rpartition("@")
        path = Path(rest).expanduser()
        name = path.name.removesuffix(".pth.tar").removesuffix(".model") or rest
        return ModelSpec(text, family, name, path, head=head or None)
    family, sep, rest = text.partition("-")
    if sep and family in ("chgnet", "mace", "matgl") and _NAME.match(rest):
        return ModelSpec(text, family, rest)  # type: ignore[arg-type]
    raise UnknownModelError(
        f"unknown model id '{model_id}'; expected chgnet-<version> ({', '.join(CHGNET_VERSIONS)}), "
        "7net-<name>, mace-<name>, matgl-<name>, chgnet:|mace:|matgl:|sevennet:<path>, "
        "or ase:<module>.<Class>"
    )


def find_local(
    spec: ModelSpec, suffixes: tuple[str, ...], settings: PesbenchSettings | None = None
) -> Path | None:
    """The local file or folder ``spec`` names, if it exists.

    For the path form: the path itself, or relative to the model folder. For the name
    form: ``<name><suffix>`` or ``<family>-<name><suffix>`` in the model folder (a
    suffix ``""`` means a folder).
    """
    root = (settings or get_settings()).models_path
    if spec.path is not None:
        for candidate in (spec.path, root / spec.path):
            if candidate.exists():
                return candidate
        return None
    for stem in (spec.name, f"{spec.family}-{spec.name}"):
        for suffix in suffixes:
            candidate = root / f"{stem}{suffix}"
            if candidate.exists():
                return candidate
    return None


def functional_of(spec: ModelSpec) -> Functional:
    """The training functional the id implies: r2SCAN when its name (or head) says so, else PBE."""
    return "r2SCAN" if "r2scan" in f"{spec.name} {spec.head or ''}".lower() else "PBE"
