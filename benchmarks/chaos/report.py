"""RESULTS.md of the chaos test, from its results.json (nothing in it that is not there).

Usage: ``python benchmarks/chaos/report.py benchmarks/chaos/results.json``
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any


def write_markdown(results: dict[str, Any], path: Path) -> None:
    """RESULTS.md from the results: everything in it comes from ``results``."""
    a, c, m = results["arguments"], results["checks"], results["machine"]
    if not c:
        lines = [f"# Chaos test: {results['outcome']}", "", "No final check. Anomalies:", ""]
        path.write_text("\n".join(lines + [f"- {x}" for x in results["anomalies"]]) + "\n")
        return
    refs, preds = c["references"], c["predictions"]
    kills = results["kills"]
    by_phase = Counter(k.get("job") or k["phase"] for k in kills)
    by_state = Counter(f"{k.get('job')} ({k.get('fw_state')})" for k in kills if k.get("job"))
    lines = [
        "# Chaos test: workers SIGKILLed and mongod restarted mid-campaign",
        "",
        f"Run {results['started']} by `benchmarks/chaos/run.py` ({results['command']}); "
        f"outcome: **{results['outcome']}** in {results['wall_s']} s "
        f"(timeout {a['timeout']} s).",
        "",
        f"Machine: {m['cpu_model']}, {m['nproc']} cores, {m['memory_gb']} GB, "
        f"{m['system']}, Python {m['python']}; load average at start "
        f"{results['load_average_start']}, at end {results['load_average_end']}.",
        "",
        "## What ran",
        "",
        f"- Campaign `{results['campaign']}`: {c['structures']} structures (category "
        f"`high_energy`, rattled and strained cells of {', '.join(results['metals'])}), "
        f"functionals {', '.join(a['functionals'])} on the EMT fake engine (`{results['engine']}`, "
        f"`sleep_s` {a['sleep_s']}), model `{results['model']}`, {a['chunk_size']} structures per "
        f"prediction job: {c['fireworks_total']} FireWorks jobs.",
        f"- Workers: {a['dft_workers']} `pesbench worker --category dft` and "
        f"{a['mlip_workers']} `--category mlip` subprocesses, respawned when one died; "
        f"{results['workers_spawned']} started in all. FireWorks ping every {a['ping_s']} s; "
        f"`pesbench resume --lost-after {a['lost_after']}`.",
        f"- {sum('target' not in k for k in kills)} SIGKILLs of a random worker (past its "
        f"start-up when any was), every {a['kill_every'][0]} to {a['kill_every'][1]} s (uniform)"
        + ("; never the worker running the plan job (`--spare-plan`)." if a["spare_plan"] else "."),
        f"- {sum('target' in k for k in kills)} targeted SIGKILLs of the worker running the plan "
        "job (`--plan-kills "
        + " ".join(a.get("plan_kills", []))
        + "`: 'run' while the job runs, 'update' while FireWorks inserts the jobs "
        "the plan made, its launch COMPLETED and the job still RUNNING); "
        "`pesbench resume --lock-wait 15`.",
        f"- {len(results['restarts'])} stops of the managed mongod, held down "
        f"{a['down_s']} s each, then `pesbench db start`.",
        f"- {len(results['resumes'])} `pesbench resume` runs.",
        "",
        "## What it survived",
        "",
        "| check | result |",
        "|---|---|",
        f"| structures (planned by the campaign) | {c['structures']} ({c['structures_planned']}) |",
    ]
    for label, d in (("references", refs), ("predictions", preds)):
        lines.append(
            f"| {label}: planned keys / documents / success / missing / duplicated / "
            f"not success / extra | {d['planned']} / {d['documents']} / {d['success']} / "
            f"{len(d['missing'])} / {len(d['duplicated'])} / {len(d['not_success'])} / "
            f"{len(d['extra'])} |"
        )
    lines += [
        f"| FireWorks job states | {', '.join(f'{k} {v}' for k, v in c['fireworks'].items())} |",
        f"| launches per job (launches: jobs) | "
        f"{', '.join(f'{k}: {v}' for k, v in c['launches_per_job'].items())} |",
        f"| finish job | {', '.join(c['finish_jobs']) or 'none'} |",
        f"| campaign runs planned / finished | {c['campaign_runs_planned']} / "
        f"{c['campaign_runs_finished']} |",
        f"| job outputs stored twice (`jobs`) | {c['job_outputs_duplicated']} |",
        f"| claims left in `claims` | {c['claims_left']} |",
        f"| reference launches, median / longest (s) | "
        f"{c['launch_seconds'].get('reference_median')} / "
        f"{c['launch_seconds'].get('reference_max')} |",
        f"| finish summary | {json.dumps(c['finish_summary'])} |",
        "",
        "### Kills",
        "",
        "What the killed worker was doing (job kind, or phase): "
        + (", ".join(f"{k} {v}" for k, v in by_phase.most_common()) or "none")
        + ".",
        "",
        "Killed jobs by kind and FireWorks state: "
        + (", ".join(f"{k} {v}" for k, v in by_state.most_common()) or "none")
        + ".",
        "",
        "| # | t (s) | worker | age (s) | phase | job | FW state | at the end: state, "
        "launches, last launch (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, k in enumerate(kills, 1):
        end = (
            f"{k['fw_state_at_end']}, {k['launches_at_end']}, {k['last_launch_s']}"
            if "fw_id" in k
            else ""
        )
        lines.append(
            f"| {i} | {k['t_s']} | {k['category']} | {k['worker_age_s']} | "
            f"{k['phase']}{' (' + k['target'] + ')' if 'target' in k else ''} | "
            f"{k.get('job_name') or ''} | {k.get('fw_state') or ''} | {end} |"
        )
    lines += [
        "",
        "### mongod restarts",
        "",
        "| # | t (s) | at jobs completed | how | until `db start` returned (s) | "
        "a worker had restarted it after (s) | "
        "port before / after |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(results["restarts"], 1):
        lines.append(
            f"| {i} | {r['t_s']} | {r['at_fraction_completed']:.0%} | {r['mode']} | "
            f"{r['down_s']} | {r['restarted_by_a_worker_after_s']} | "
            f"{r['port_before']} / {r['port_after']} |"
        )
    lines += ["", "### Resumes", "", "| t (s) | why | output |", "|---|---|---|"]
    lines += [f"| {r['t_s']} | {r['why']} | {r['output']} |" for r in results["resumes"]]
    lines += ["", "### Workers that ended by themselves", ""]
    if results["worker_exits"]:
        lines += ["| t (s) | category | exit code | alive (s) | last line |", "|" + "---|" * 5]
        lines += [
            f"| {e['t_s']} | {e['category']} | {e['rc']} | {e['alive_s']} | "
            f"{e['last_line'].replace('|', '/')} |"
            for e in results["worker_exits"]
        ]
    else:
        lines.append("None.")
    lines += ["", "## Anomalies", ""]
    lines += [f"- {x}" for x in results["anomalies"]] or ["None."]
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    source = Path(sys.argv[1])
    write_markdown(json.loads(source.read_text()), source.with_name("RESULTS.md"))
