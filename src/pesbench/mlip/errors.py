"""Errors of loading a model: one line each, saying how to fix it."""

from __future__ import annotations

from pesbench.errors import PesbenchError

__all__ = ["ModelSanityError", "ModelUnavailableError", "UnknownModelError"]


class UnknownModelError(PesbenchError, ValueError):
    """A model id that follows none of the grammar's forms (see ``pesbench.mlip.ids``)."""


class ModelUnavailableError(PesbenchError):
    """A model that cannot be had on this machine; the message says how to supply it."""


class ModelSanityError(PesbenchError):
    """A model that loaded but predicts nonsense for a known cell: it is not used."""
