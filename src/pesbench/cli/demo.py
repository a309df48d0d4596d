"""``pesbench demo``: what the embedded default can run today, said plainly."""

from __future__ import annotations

from pesbench.cli.console import console
from pesbench.cli.doctor import run_checks
from pesbench.settings import get_settings
from pesbench.stores import database_uri
from pesbench.stores.selfcheck import check_job_store

__all__ = ["demo"]


def demo() -> None:
    """Run the quickstart on the embedded default (today: the database part only).

    The full campaign (generate -> DFT references -> uMLIP predictions -> comparison ->
    report) is not built yet; this command says so instead of pretending, and runs the
    parts that exist: the machine check and a real job through the managed MongoDB.
    """
    settings = get_settings()
    console.rule("pesbench demo")
    for row in run_checks(settings):
        console.print(f"  {row.status:>7}  {row.component}: {row.detail}")
    uri = database_uri(settings)
    console.print(f"\nMongoDB: {uri} (database {settings.db_name})")
    check = check_job_store(settings)
    console.print(
        f"jobflow run_locally -> JobStore: job {check.uuid} stored {check.megabytes:.0f} MB "
        f"through GridFS and read it back intact in {check.seconds:.1f} s"
    )
    console.print(
        "\n[bold yellow]Not implemented yet:[/] the quickstart campaign itself (structure "
        "generation, GPAW references, uMLIP predictions, softening and GGA -> r2SCAN "
        "comparison, report). Nothing above is a benchmark result."
    )
