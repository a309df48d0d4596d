"""Pydantic documents: what is stored and returned (no jobflow, no I/O).

Empty until its issue lands.
"""

from __future__ import annotations
