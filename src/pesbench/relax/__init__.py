"""Relaxation with ASE optimizers: the one loop every side (uMLIP, EMT, GPAW ranks) runs.

:func:`relax_atoms` relaxes one structure; :func:`relax_many` relaxes many with the same
optimizers, evaluating them together (a uMLIP's batched forward pass).
"""

from __future__ import annotations

from pesbench.relax.batched import Evaluate, relax_many
from pesbench.relax.optimize import RelaxOutcome, relax_atoms

__all__ = ["Evaluate", "RelaxOutcome", "relax_atoms", "relax_many"]
