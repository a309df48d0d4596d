"""The planted-softening setup: EMT as the "DFT", and EMT softened by a known factor."""

from __future__ import annotations

from ase.build import bulk as ase_bulk
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from pesbench.mlip.registry import load_model
from pesbench.properties import ModelSide
from pesbench.schemas.relaxation import RelaxSettings

SOFTENING = 0.8
"""The planted model is EMT with its energy times this."""
TIGHT = RelaxSettings(fmax=0.002, max_steps=1000)
"""Thresholds of the planted tests: tight, so the ratios hold to ~1e-3."""
SCALED_EMT = "ase:pesbench.testing.emt.ScaledEMT"


def cu_bulk(a: float = 3.7) -> Structure:
    """fcc Cu, primitive cell, lattice constant ``a`` (EMT's minimum is ~3.59 Å)."""
    return AseAtomsAdaptor.get_structure(ase_bulk("Cu", "fcc", a=a))


def model_side(scale: float, **kwargs) -> ModelSide:
    """EMT scaled by ``scale`` as a uMLIP (``ase:pesbench.testing.emt.ScaledEMT``)."""
    predictor = load_model(SCALED_EMT, calculator_kwargs={"scale": scale}, check=False)
    return ModelSide(predictor, **kwargs)
