"""What every stored document shares, and the names of the levels of theory."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pesbench import __version__

__all__ = ["FUNCTIONALS", "Functional", "PesbenchDoc"]

Functional = Literal["PBE", "PBE+U", "r2SCAN"]
"""Levels of theory: GGA (PBE), GGA+U (PBE+U, Materials Project U values), meta-GGA (r2SCAN).

A uMLIP's training functional uses the same names (MPtrj-trained models: ``"PBE"``, which
covers PBE+U data too; MatPES-r2SCAN or CHGNet-r2scan: ``"r2SCAN"``)."""

FUNCTIONALS: tuple[str, ...] = ("PBE", "PBE+U", "r2SCAN")


def _now() -> datetime:
    return datetime.now(UTC)


class PesbenchDoc(BaseModel):
    """Base of the stored documents: provenance fields; subclasses add the science."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    pesbench_version: str = Field(
        default=__version__, description="Version of pesbench that built the document."
    )
    created_at: datetime = Field(
        default_factory=_now, description="When the document was built (UTC)."
    )
