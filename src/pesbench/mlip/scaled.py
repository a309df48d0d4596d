"""The one-parameter softening correction as a model: ``<model id>+scale@<fit-id>``.

Deng et al. (npj Comput. Mater. 11, 9, 2025) find the softening of a uMLIP's potential
energy surface systematic: one scale, fitted on a single high-energy structure of a
material, corrects its forces elsewhere. :func:`fit_scale` fits that scale (the softening
scale of :func:`pesbench.analysis.softening.softening_scale`) on reference forces;
:class:`ScaledPredictor` wraps any :class:`~pesbench.mlip.base.Predictor` and applies it.
The fit is a :class:`~pesbench.schemas.correction.ScaleFitDoc` saved as
``scale-fits/<fit-id>.json`` in the model folder, naming the references it came from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike
from pymatgen.core import Structure

from pesbench.analysis.metrics import stack_components
from pesbench.analysis.softening import softening_scale
from pesbench.mlip.base import Predictor, RawResult
from pesbench.mlip.errors import ModelUnavailableError
from pesbench.schemas.base import Functional
from pesbench.schemas.correction import ScaleFitDoc, scale_fit_id
from pesbench.settings import PesbenchSettings, get_settings

__all__ = [
    "SCALE_FIT_DIR",
    "ScaledPredictor",
    "fit_scale",
    "load_scale_fit",
    "save_scale_fit",
    "scale_fit_path",
]

SCALE_FIT_DIR = "scale-fits"
"""Folder of the fits, inside the model folder."""


class ScaledPredictor(Predictor):
    """A model whose energy surface is scaled by one factor (``ScaleFitDoc``).

    Forces and stress are multiplied by ``fit.factor``; the energy by the same factor
    about ``fit.anchor_energy_per_atom`` per atom, so forces remain its derivatives.
    """

    def __init__(self, inner: Predictor, fit: ScaleFitDoc, model_id: str) -> None:
        # its own checksum: predictions are deduplicated by (structure, model checksum)
        checksum = hashlib.sha256(f"{inner.info.checksum}+{fit.fit_id}".encode()).hexdigest()
        info = inner.info.model_copy(update={"model_id": model_id, "checksum": checksum[:16]})
        super().__init__(info, inner.device, inner.elements)
        self.inner = inner
        self.fit = fit
        self.batched = inner.batched  # type: ignore[misc]
        self.dft_trained = inner.dft_trained  # type: ignore[misc]

    def _forward(self, structures: Sequence[Structure]) -> list[RawResult]:
        c, e0 = self.fit.factor, self.fit.anchor_energy_per_atom
        return [
            RawResult(
                energy=len(s) * e0 + c * (raw.energy - len(s) * e0),
                forces=c * np.asarray(raw.forces, dtype=float),
                stress=c * np.asarray(raw.stress, dtype=float),
            )
            for raw, s in zip(self.inner._forward(structures), structures, strict=True)
        ]


def fit_scale(
    base_model: str,
    functional: Functional,
    reference_forces: Sequence[ArrayLike],
    predicted_forces: Sequence[ArrayLike],
    predicted_energies_per_atom: Sequence[float],
    reference_ids: Sequence[str],
    structure_ids: Sequence[str],
    materials: Sequence[str] = (),
) -> ScaleFitDoc:
    """Fit the softening scale of ``base_model`` on one or a few reference structures.

    Parameters
    ----------
    base_model
        Model id of the model corrected.
    functional
        Functional of the references.
    reference_forces, predicted_forces
        Per structure (n_i, 3) force arrays, eV/Å, DFT and model, in the same order.
    predicted_energies_per_atom
        The model's energy per atom of each structure, eV/atom (the energy anchor).
    reference_ids, structure_ids
        Provenance of each structure, recorded in the fit.
    materials
        Reduced formulas of the bulks the structures came from.

    Returns
    -------
    ScaleFitDoc
        Not yet saved (:func:`save_scale_fit`).
    """
    if not reference_forces or len(reference_forces) != len(predicted_forces):
        raise ValueError("need one predicted force array per reference force array (>= 1)")
    ref = stack_components(list(reference_forces))
    pred = stack_components(list(predicted_forces))
    scale = softening_scale(ref, pred)
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"softening scale {scale} cannot be corrected (forces all zero?)")
    return ScaleFitDoc(
        fit_id=scale_fit_id(base_model, scale, list(reference_ids)),
        base_model=base_model,
        functional=functional,
        scale=scale,
        factor=1.0 / scale,
        anchor_energy_per_atom=float(np.mean(predicted_energies_per_atom)),
        reference_ids=list(reference_ids),
        structure_ids=list(structure_ids),
        materials=sorted(set(materials)),
        n_components=int(ref.size),
        force_mae_before=float(np.mean(np.abs(pred - ref))),
        force_mae_after=float(np.mean(np.abs(pred / scale - ref))),
    )


def scale_fit_path(fit_id: str, settings: PesbenchSettings | None = None) -> Path:
    """Where the fit ``fit_id`` is stored: ``<model folder>/scale-fits/<fit_id>.json``."""
    return (settings or get_settings()).models_path / SCALE_FIT_DIR / f"{fit_id}.json"


def save_scale_fit(fit: ScaleFitDoc, settings: PesbenchSettings | None = None) -> Path:
    """Write ``fit`` to :func:`scale_fit_path`; return the path."""
    path = scale_fit_path(fit.fit_id, settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(fit.model_dump_json(indent=1))
    return path


def load_scale_fit(fit_id: str, settings: PesbenchSettings | None = None) -> ScaleFitDoc:
    """Read a stored fit.

    Raises
    ------
    ModelUnavailableError
        No fit of that id in the model folder.
    """
    path = scale_fit_path(fit_id, settings)
    if not path.is_file():
        raise ModelUnavailableError(
            f"no softening-scale fit {fit_id} at {path}: fit one with ScaleFitMaker"
        )
    return ScaleFitDoc.model_validate_json(path.read_text())
