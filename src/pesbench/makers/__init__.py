"""jobflow Makers: generate, reference, predict, compare, finetune.

Empty until its issue lands.
"""

from __future__ import annotations
