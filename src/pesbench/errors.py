"""Exceptions that reach the user as one line of text (the CLI prints them, no traceback)."""

from __future__ import annotations

__all__ = ["DatabaseError", "PesbenchError", "SettingsError"]


class PesbenchError(Exception):
    """Base class of errors whose message is complete on its own, with its fix."""


class SettingsError(PesbenchError, ValueError):
    """A setting is unknown, malformed or inconsistent; the message names the key."""


class DatabaseError(PesbenchError):
    """MongoDB cannot be reached, or the managed local server cannot be run."""
