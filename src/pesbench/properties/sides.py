"""The two kinds of side that compute a property: a DFT engine, and a uMLIP.

A :class:`Side` relaxes structures (:meth:`Side.relax`) with the same
:class:`~pesbench.schemas.relaxation.RelaxSettings` whatever computes, and returns a
:class:`~pesbench.schemas.relaxation.RelaxationDoc`; a single point is a relaxation of
zero steps (``RelaxSettings.static()``). With a cache (:class:`RelaxationCache`, e.g. the
``relaxations`` collection) a relaxation already stored for the same structure, side and
settings is returned instead of recomputed, and each new one is stored as soon as it
finishes: a killed worker redoes at most the relaxation it was in.
:meth:`Side.relax_many` relaxes a list with the same settings: stored ones are looked up
first, the others run together where the side can (a model: one batched forward pass per
optimizer step, :func:`pesbench.relax.relax_many`) and each is stored as the batch ends
(a killed worker redoes that batch).

- :class:`ModelSide`: a loaded :class:`~pesbench.mlip.base.Predictor`, wrapped as an ASE
  calculator (:class:`PredictorCalculator`) and relaxed by :func:`pesbench.relax.relax_atoms`.
- :class:`EngineSide`: a DFT engine whose ``relax`` method runs the same loop where its
  calculator lives (in process for EMT, on the MPI ranks for GPAW), or VASP's own ionic
  loop under custodian (:mod:`pesbench.engines.vasp.relax`); an engine without ``relax``
  is refused with a clear error.
"""

from __future__ import annotations

from pesbench.properties.engine_side import EngineSide
from pesbench.properties.model_side import ModelSide, PredictorCalculator, predict_ase
from pesbench.properties.side import RelaxationCache, Side, outcome_to_doc

__all__ = [
    "EngineSide",
    "ModelSide",
    "PredictorCalculator",
    "RelaxationCache",
    "Side",
    "outcome_to_doc",
    "predict_ase",
]
