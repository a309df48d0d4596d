"""A ``pesbench worker`` that SIGKILLs itself halfway through applying a job's new jobs.

Run as ``python dying_worker.py <pesbench worker arguments>``. FireWorks' ``complete_launch``
marks the launch COMPLETED, locks the workflow and upserts the jobs that the job's action
adds (a plan job's replace) one by one; this worker dies after half of them, as a worker
killed there would, leaving the workflow locked, the job RUNNING with a COMPLETED launch
and orphan jobs in ``fireworks``. Not a test module.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from fireworks import LaunchPad

_upsert_fws = LaunchPad._upsert_fws


def _dying_upsert(self: LaunchPad, fws: list[Any], reassign_all: bool = False) -> Any:
    if reassign_all or len(fws) < 4:  # a new workflow, or a plain state update
        return _upsert_fws(self, fws, reassign_all)
    if os.environ.get("DYING_WORKER_AT") == "after-upsert":  # every job written, the
        _upsert_fws(self, fws)  # workflow document not yet: the finished job's own
    else:  # document says COMPLETED, the workflow's RUNNING
        half = sorted(fws, key=lambda fw: fw.fw_id)[: len(fws) // 2]  # new jobs (ids < 0)
        _upsert_fws(self, half)
    os.kill(os.getpid(), signal.SIGKILL)
    return None  # pragma: no cover


LaunchPad._upsert_fws = _dying_upsert  # type: ignore[method-assign]

if __name__ == "__main__":
    from pesbench.cli.main import app

    app(sys.argv[1:])
