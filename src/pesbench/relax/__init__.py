"""Relaxation with ASE optimizers: the one loop every side (uMLIP, EMT, GPAW ranks) runs."""

from __future__ import annotations

from pesbench.relax.optimize import RelaxOutcome, relax_atoms

__all__ = ["RelaxOutcome", "relax_atoms"]
