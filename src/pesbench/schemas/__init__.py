"""Pydantic documents: what is stored and returned (no jobflow, no I/O).

One module per collection's document (``structure``, ``reference``, ``prediction``,
``relaxation``, ``property``, ``comparison``, ``campaign``, ``correction``), the content
ids that key them (``ids``) and their shared base (``base``).
"""

from __future__ import annotations
