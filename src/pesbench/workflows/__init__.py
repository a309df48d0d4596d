"""Campaigns: spec -> Flow -> a local run, or FireWorks workers and SLURM.

``spec`` (the YAML campaign spec), ``campaign`` (:class:`CampaignFlowMaker` and its plan
job), ``records`` (what a campaign writes: structures, run records, the finish job),
``execute`` (run, submit, status, resume) and ``fireworks`` (worker categories and files).
"""

from __future__ import annotations
