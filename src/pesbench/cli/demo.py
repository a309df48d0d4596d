"""``pesbench demo``: the quickstart campaign on the embedded default."""

from __future__ import annotations

from importlib.resources import as_file, files

from pesbench.cli.console import console
from pesbench.cli.doctor import FAILED, run_checks
from pesbench.cli.run import print_summary, run_with_progress
from pesbench.errors import PesbenchError
from pesbench.settings import get_settings
from pesbench.stores import database_uri
from pesbench.workflows.execute import preflight
from pesbench.workflows.spec import load_spec

__all__ = ["demo"]


def demo() -> None:
    """Run the quickstart campaign here: GPAW PBE and r2SCAN, CHGNet, managed MongoDB.

    Si, MgO and Mg, rattled and strained primitive cells: structure generation, DFT references
    at two levels of theory, uMLIP predictions, the softening and GGA -> r2SCAN comparison,
    and the HTML report. Minutes on 2 cores the first time; a rerun reuses every stored
    result.
    """
    settings = get_settings()
    console.rule("pesbench demo: the quickstart campaign")
    broken = [row for row in run_checks(settings) if row.status == FAILED]
    for row in broken:
        console.print(f"[red]{row.component}:[/] {row.detail} ({row.fix})")
    console.print(f"MongoDB: {database_uri(settings)} (database {settings.db_name})")
    with as_file(files("pesbench.workflows").joinpath("quickstart")) as folder:
        spec = load_spec(folder / "quickstart.yaml")
        with console.status("checking the DFT engine and the models"):
            checked = preflight(spec)
        for line in checked:
            console.print(f"  ok  {line}")
        summary = run_with_progress(spec, retry_failed=False)
    print_summary(spec, summary)
    if summary.job_errors:
        raise PesbenchError(f"{len(summary.job_errors)} job(s) of the demo failed (above)")
