"""jobflow Makers: generate, reference, predict, compare, relax, properties, fine-tune.

Each Maker's job stores its result in its collection when it finishes (``base``); the
campaign Flow (:mod:`pesbench.workflows.campaign`) holds them as sub-makers, and a user's
own Flow chains them by their outputs (``docs/flows.md``)::

    GenerateMaker -> ReferenceSetMaker and PredictMaker -> CompareMaker

Names load with their module on first use (PEP 562, as in :mod:`pesbench.structures`): a
prediction worker that imports ``pesbench.makers.predict`` does not load the generators'
libraries (phonopy and others) through ``GenerateMaker``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pesbench.lazy import lazy_exports

if TYPE_CHECKING:
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

_MODULE_OF = {
    "CompareMaker": "compare",
    "GenerateMaker": "generate",
    "PredictMaker": "predict",
    "ReferenceFlowMaker": "reference",
    "ReferenceMaker": "reference",
    "ReferenceSetMaker": "reference",
}


__getattr__ = lazy_exports(__name__, _MODULE_OF)
