"""``CampaignRunSummary``: what one run of a campaign planned, and what it stored."""

from __future__ import annotations

from pydantic import Field

from pesbench.schemas.base import PesbenchDoc

__all__ = ["CampaignRunSummary"]


class CampaignRunSummary(PesbenchDoc):
    """One run of a campaign: the plan's counts, then (from the finish job) what was stored.

    The plan job returns it with the first group of fields filled; the finish job returns
    it complete. Both are recorded in the ``campaigns`` collection under the campaign's
    ``runs`` (the finished one as ``runs.finished``), field names unchanged.
    """

    run_id: str = Field(description="Id of this run of the campaign (hex).")
    campaign: str = Field(description="Campaign name.")
    models: list[str] = Field(default_factory=list, description="Model ids predicted with.")
    structures: int = Field(default=0, description="Distinct structures generated and kept.")
    references_new: int = Field(default=0, description="References planned to compute.")
    references_reused: int = Field(default=0, description="References found stored.")
    predictions_new: int = Field(default=0, description="Predictions planned to compute.")
    prediction_jobs: int = Field(default=0, description="Prediction jobs (chunks) planned.")
    predictions_reused: int = Field(default=0, description="Predictions found stored.")

    references_lost: int = Field(
        default=0, description="Reference jobs that returned nothing (crashed or lost)."
    )
    references_failed: int = Field(default=0, description="References stored as failed.")
    prediction_jobs_lost: int = Field(
        default=0, description="Prediction jobs that returned nothing (crashed or lost)."
    )
    predictions_failed: int = Field(default=0, description="Predictions stored as failed.")
    comparisons_written: dict[str, int] = Field(
        default_factory=dict, description="Comparison documents written, per level."
    )
    property_jobs: int = Field(
        default=0, description="Property calculations planned (stored ones return at once)."
    )
    property_sets_lost: int = Field(
        default=0, description="Property calculations whose job crashed (no result)."
    )
    properties_stored: int = Field(
        default=0, description="Property values of this run's calculations."
    )
    report: str | None = Field(default=None, description="Path of the HTML report.")
    cross_functional: str | None = Field(
        default=None, description="One-paragraph GGA vs r2SCAN summary of the report."
    )
    report_error: str | None = Field(
        default=None, description="Why no report was written (the results are stored)."
    )
    job_errors: list[str] = Field(
        default_factory=list,
        description="Jobs that failed, each with its last error line (local runs only).",
    )
