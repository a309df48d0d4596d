"""``load_model(model_id)``: the one way a model is loaded; ``model_info``: what it is, cached."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pesbench.analysis.conventions import CONVENTION_TEXT
from pesbench.errors import PesbenchError
from pesbench.memory import freeze_long_lived
from pesbench.mlip.ase import load_ase
from pesbench.mlip.base import Predictor, select_device, set_threads
from pesbench.mlip.chgnet import load_chgnet
from pesbench.mlip.ids import (
    CHGNET_VERSIONS,
    MACE_DOWNLOADS,
    ModelSpec,
    find_local,
    functional_of,
    parse_model_id,
)
from pesbench.mlip.mace import load_mace
from pesbench.mlip.matgl import load_matgl
from pesbench.mlip.sanity import sanity_check
from pesbench.mlip.scaled import ScaledPredictor, load_scale_fit
from pesbench.mlip.sevennet import SEVENNET_MODELS, load_sevennet
from pesbench.schemas.base import Functional
from pesbench.schemas.prediction import ModelInfo
from pesbench.settings import PesbenchSettings, get_settings

__all__ = [
    "ModelStatus",
    "known_model_ids",
    "load_model",
    "model_info",
    "model_status",
    "worker_model",
]

WORKER_MODELS = 2
"""Models a worker process keeps loaded (:func:`worker_model`)."""
_loaded: dict[tuple[Any, ...], Predictor] = {}


def load_model(
    model_id: str,
    *,
    device: str | None = None,
    functional: Functional | None = None,
    calculator_kwargs: dict[str, Any] | None = None,
    check: bool = True,
    settings: PesbenchSettings | None = None,
) -> Predictor:
    """Load a model by id (grammar: :mod:`pesbench.mlip.ids`) and sanity-check it.

    Parameters
    ----------
    model_id
        E.g. ``"chgnet-0.3.0"``, ``"mace:/path/model.model"``, ``"ase:ase.calculators.emt.EMT"``.
    device
        ``"cpu"``, ``"cuda"``; default: the ``device`` setting (``auto``: CUDA when present).
    functional
        Training functional to record, when the id does not imply the right one.
    calculator_kwargs
        Keyword arguments of an ASE calculator (``ase:`` ids only).
    check
        Run :func:`~pesbench.mlip.sanity.sanity_check` (raises on a nonsense model); for a
        ``+scale@`` id, on its base model.
    settings
        Default :func:`~pesbench.settings.get_settings`: model folder, device, threads.

    Returns
    -------
    Predictor
        Ready to :meth:`~pesbench.mlip.base.Predictor.predict`.

    Raises
    ------
    UnknownModelError, ModelUnavailableError, ModelSanityError
        One-line messages; the second says how to supply the model.
    """
    settings = settings or get_settings()
    spec = parse_model_id(model_id)
    if spec.scale_fit is not None:
        return _load_scaled(
            model_id,
            spec,
            spec.scale_fit,
            settings,
            device=device,
            functional=functional,
            calculator_kwargs=calculator_kwargs,
            check=check,
        )
    if calculator_kwargs and spec.family != "ase":
        raise PesbenchError(f"{model_id}: calculator_kwargs are for ase:<module>.<Class> ids")
    dev = select_device(settings, device)
    set_threads(settings)
    func = functional or functional_of(spec)
    predictor = _load_family(spec, dev, func, settings, calculator_kwargs or {})
    if check:
        sanity_check(predictor, expected=predictor.expected_energies)
    return predictor


def _load_family(
    spec: ModelSpec,
    dev: str,
    func: Functional,
    settings: PesbenchSettings,
    calculator_kwargs: dict[str, Any],
) -> Predictor:
    """The model of ``spec``'s family's loader (an ``ase:`` calculator takes its kwargs)."""
    if spec.family == "ase":
        return load_ase(spec, func, calculator_kwargs)
    loaders = {
        "chgnet": load_chgnet,
        "mace": load_mace,
        "matgl": load_matgl,
        "sevennet": load_sevennet,
    }
    loader = loaders[spec.family]
    return loader(spec, dev, func, settings)


def _load_scaled(
    model_id: str, spec: ModelSpec, scale_fit: str, settings: PesbenchSettings, **base_kwargs: Any
) -> Predictor:
    """A ``+scale@`` id: its base model (``base_kwargs`` of :func:`load_model`), corrected."""
    fit = load_scale_fit(scale_fit, settings)
    if parse_model_id(fit.base_model) != parse_model_id(spec.base_id):
        raise PesbenchError(
            f"{model_id}: fit {scale_fit} was made for {fit.base_model}, not {spec.base_id}"
        )
    inner = load_model(spec.base_id, settings=settings, **base_kwargs)
    # the base model is checked; the correction is a fixed transform of it, which
    # moves energies away from the known values by design (factor != 1)
    return ScaledPredictor(inner, fit, spec.model_id)


def worker_model(
    model_id: str,
    *,
    device: str | None = None,
    functional: Functional | None = None,
    calculator_kwargs: dict[str, Any] | None = None,
    settings: PesbenchSettings | None = None,
) -> Predictor:
    """:func:`load_model`, once per worker process: jobs that follow reuse the model.

    A worker runs job after job (FireWorks' rapidfire, ``run_locally``); loading a model and
    its sanity check cost seconds each time. The :data:`WORKER_MODELS` most recently used
    models stay loaded, keyed by everything that decides what is loaded (a replaced local
    model file is loaded anew). After a load, what the process holds (modules, the model) is
    moved out of the garbage collector's sight (:func:`~pesbench.memory.freeze_long_lived`).
    """
    settings = settings or get_settings()
    key = (
        model_id,
        select_device(settings, device),
        functional,
        json.dumps(calculator_kwargs or {}, sort_keys=True, default=str),
        settings.models_path,
        _file_stamp(model_id, settings),
    )
    predictor = _loaded.pop(key, None)
    if predictor is None:
        predictor = load_model(
            model_id,
            device=device,
            functional=functional,
            calculator_kwargs=calculator_kwargs,
            settings=settings,
        )
        freeze_long_lived()
    _loaded[key] = predictor  # most recent last
    while len(_loaded) > WORKER_MODELS:
        _loaded.pop(next(iter(_loaded)))
    return predictor


def model_info(
    model_id: str,
    *,
    functional: Functional | None = None,
    calculator_kwargs: dict[str, Any] | None = None,
    settings: PesbenchSettings | None = None,
) -> ModelInfo:
    """What :func:`load_model` would record for ``model_id`` (its checksum), with no forward pass.

    The weights are loaded on CPU without the sanity check, once per process for each
    (model id, functional, calculator kwargs, model folder, local file's modification
    time): planning a campaign reads the checksums of its models without running them.

    Parameters
    ----------
    model_id, functional, calculator_kwargs
        As for :func:`load_model`.
    settings
        Default :func:`~pesbench.settings.get_settings`: the model folder.

    Raises
    ------
    UnknownModelError, ModelUnavailableError
        As :func:`load_model`.
    """
    settings = settings or get_settings()
    kwargs = json.dumps(calculator_kwargs or {}, sort_keys=True, default=str)
    stamp = _file_stamp(model_id, settings)
    info = _cached_info(model_id, functional, kwargs, settings.models_path, stamp)
    return info.model_copy(deep=True)


def _file_stamp(model_id: str, settings: PesbenchSettings) -> int | None:
    """Modification time of the local model file or folder ``model_id`` names, if any."""
    spec = parse_model_id(parse_model_id(model_id).base_id)
    if spec.family == "ase":
        return None
    path = find_local(spec, (".model", ""), settings)
    return path.stat().st_mtime_ns if path is not None else None


@functools.cache
def _cached_info(
    model_id: str,
    functional: Functional | None,
    kwargs: str,
    models_path: Path,
    stamp: int | None,  # only a cache key: a replaced model file is loaded anew
) -> ModelInfo:
    settings = get_settings().model_copy(update={"model_dir": models_path})
    predictor = load_model(
        model_id,
        device="cpu",
        functional=functional,
        calculator_kwargs=json.loads(kwargs) or None,
        check=False,
        settings=settings,
    )
    return predictor.info


def known_model_ids(settings: PesbenchSettings | None = None) -> list[str]:
    """Every model id this installation knows of: built-in names and local model files."""
    settings = settings or get_settings()
    ids = [f"chgnet-{v}" for v in CHGNET_VERSIONS]
    ids += list(SEVENNET_MODELS)
    root = settings.models_path
    local_mace = sorted(root.glob("*.model")) if root.is_dir() else []
    local_matgl = sorted(p.parent for p in root.glob("*/model.json")) if root.is_dir() else []
    ids += [f"mace-{p.name.removesuffix('.model').removeprefix('mace-')}" for p in local_mace]
    ids += [f"mace-{name}" for name in MACE_DOWNLOADS]
    ids += [f"matgl-{p.name.removeprefix('matgl-')}" for p in local_matgl]
    ids += ["matgl-M3GNet-MatPES-PBE-v2025.1-PES", "matgl-TensorNet-MatPES-r2SCAN-v2025.1-PES"]
    ids += ["ase:ase.calculators.emt.EMT"]
    return list(dict.fromkeys(ids))


@dataclass
class ModelStatus:
    """Whether a model id loads and passes its sanity check here, and why not."""

    model_id: str
    ok: bool
    detail: str


def model_status(model_id: str, settings: PesbenchSettings | None = None) -> ModelStatus:
    """Try to load ``model_id`` (with its sanity check) and say how it went."""
    try:
        predictor = load_model(model_id, settings=settings, device="cpu")
    except PesbenchError as exc:
        return ModelStatus(model_id, False, str(exc))
    info = predictor.info
    trained = f"trained on {info.training_data}" if info.training_data else f"{info.functional}"
    return ModelStatus(
        model_id,
        True,
        f"{info.framework or info.name}, {trained}, functional {info.functional}, "
        f"{CONVENTION_TEXT[info.energy_convention]}, checksum {info.checksum}",
    )
