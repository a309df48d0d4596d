"""Any ASE calculator by import path (``ase:ase.calculators.emt.EMT``), one structure per pass.

ASE calculators have no batched forward pass: the calculator is built once and evaluates
structures one by one. This covers every force field atomate2 knows, through the
calculator class it wraps.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from pesbench.mlip.base import EV_PER_A3_TO_GPA, Predictor, RawResult
from pesbench.mlip.errors import ModelUnavailableError
from pesbench.mlip.ids import ModelSpec
from pesbench.schemas.base import Functional
from pesbench.schemas.prediction import EnergyConvention, ModelInfo

__all__ = ["ASEPredictor", "load_ase"]

_CONVENTIONS: dict[str, EnergyConvention] = {"mp2020": "mp2020", "unknown": "unknown"}


class ASEPredictor(Predictor):
    """An ASE ``Calculator`` instance; energies, forces and stress by its own methods."""

    batched = False
    dft_trained = False

    def __init__(self, calculator: Any, info: ModelInfo) -> None:
        super().__init__(info, "cpu", None)
        self.calculator = calculator

    def _forward(self, structures: Sequence[Structure]) -> list[RawResult]:
        results = []
        for structure in structures:
            atoms = AseAtomsAdaptor.get_atoms(structure)
            atoms.calc = self.calculator
            results.append(
                RawResult(
                    energy=float(atoms.get_potential_energy()),
                    forces=np.asarray(atoms.get_forces(), dtype=float),
                    stress=np.asarray(atoms.get_stress(voigt=False), dtype=float)
                    * EV_PER_A3_TO_GPA,
                )
            )
        return results


def load_ase(spec: ModelSpec, functional: Functional, kwargs: dict[str, Any]) -> ASEPredictor:
    """Import ``spec.name`` (``package.module.Class``) and build it with ``kwargs``."""
    module_name, _, class_name = spec.name.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelUnavailableError(
            f"{spec.model_id}: cannot import {module_name} ({exc}); install the package "
            "that provides the calculator"
        ) from None
    cls = getattr(module, class_name, None)
    if cls is None or not callable(cls):
        raise ModelUnavailableError(f"{spec.model_id}: {module_name} has no {class_name}")
    try:
        calculator = cls(**kwargs)
    except Exception as exc:
        raise ModelUnavailableError(
            f"{spec.model_id}: {class_name}(**{kwargs}) failed: {type(exc).__name__}: {exc}"
        ) from None
    convention = getattr(cls, "energy_convention", "raw")
    package = module_name.split(".")[0]
    try:
        pkg_version = version(package)
    except PackageNotFoundError:
        pkg_version = "unknown"
    payload = json.dumps(
        {"class": spec.name, "kwargs": kwargs, "version": pkg_version}, sort_keys=True, default=str
    )
    info = ModelInfo(
        model_id=spec.model_id,
        name="ase",
        version=f"{class_name} ({package} {pkg_version})",
        checksum=hashlib.sha256(payload.encode()).hexdigest()[:16],
        functional=functional,
        framework=f"{package} {pkg_version}",
        # a calculator may say what its energies are (class attribute); else raw
        energy_convention=_CONVENTIONS.get(convention, "raw"),
    )
    return ASEPredictor(calculator, info)
