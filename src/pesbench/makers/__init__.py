"""jobflow Makers: generate, reference, predict, relax, properties, fine-tune.

Each Maker's job stores its result in its collection when it finishes (``base``); the
campaign Flow (:mod:`pesbench.workflows.campaign`) holds them as sub-makers.
"""

from __future__ import annotations
