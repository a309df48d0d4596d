"""jobflow Makers: generate, reference, predict, compare, relax, properties, fine-tune.

Each Maker's job stores its result in its collection when it finishes (``base``); the
campaign Flow (:mod:`pesbench.workflows.campaign`) holds them as sub-makers, and a user's
own Flow chains them by their outputs (``docs/flows.md``):

    GenerateMaker -> ReferenceSetMaker and PredictMaker -> CompareMaker
"""

from __future__ import annotations

from pesbench.makers.compare import CompareMaker
from pesbench.makers.generate import GenerateMaker
from pesbench.makers.predict import PredictMaker
from pesbench.makers.reference import ReferenceFlowMaker, ReferenceMaker, ReferenceSetMaker

__all__ = [
    "CompareMaker",
    "GenerateMaker",
    "PredictMaker",
    "ReferenceFlowMaker",
    "ReferenceMaker",
    "ReferenceSetMaker",
]
