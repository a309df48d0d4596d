"""Flow makers and campaigns: spec -> Flow -> local run, FireWorks, SLURM.

Empty until its issue lands.
"""

from __future__ import annotations
