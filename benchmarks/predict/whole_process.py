"""Whole-process CHGNet prediction: pesbench vs stock ``CHGNet.predict_structure`` (issue 14).

Each variant runs as a fresh Python process on N = 8 and N = 32 rattled 64-atom Si cells
read from files; the time for 32 minus the time for 8 is the time of 24 cells with start-up
and model load cancelled. Peak memory is the process's own peak RSS (``os.wait4``'s
``ru_maxrss``). Variants alternate order from repeat to repeat so that the shared machine's
load drift favours none.

Variants:

- ``stock``: ``python -c`` that imports chgnet, loads CHGNet 0.3.0 once and calls
  ``predict_structure(structure, task="efs")`` on each cell in a loop. For these 64-atom
  cells this is the same passes as the list call at the atom budget of 64
  (``predict_structure(cells, batch_size=1)``); its default ``batch_size=16`` would put
  1,024 atoms in a pass (~10 GB, ``RESULTS.md``), not the same work.
- ``pesbench``: ``pesbench predict --atom-budget 64 --json FILES`` (this checkout's ``src/``),
  or, with ``--src LABEL=PATH`` (repeatable), the same command on those ``src/`` folders.

Throughput is given per wall second and per CPU second of the process (user + system): on a
shared machine the CPU time is the steadier of the two.

Every variant gets one torch thread (``PESBENCH_TORCH_THREADS=1``, ``torch.set_num_threads(1)``
for stock). Run::

    nice -n 10 python benchmarks/predict/whole_process.py --repeats 3 --out benchmarks/predict
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Lattice, Structure

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_common import machine

STOCK = """
import sys, torch
from pymatgen.core import Structure
from chgnet.model import CHGNet
torch.set_num_threads(1)
model = CHGNet.load(model_name="0.3.0", verbose=False)
for path in sys.argv[1:]:
    pred = model.predict_structure(Structure.from_file(path), task="efs")
print(len(sys.argv) - 1, float(pred["e"]))
"""


def cells(n: int, seed: int = 14) -> list[Structure]:
    """``n`` 64-atom Si cells (2x2x2 conventional), every atom moved by up to 0.05 Å."""
    si = Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.47), ["Si"], [[0, 0, 0]]) * 2
    rng = np.random.default_rng(seed)
    return [
        Structure(
            si.lattice,
            si.species,
            si.cart_coords + rng.uniform(-0.05, 0.05, (len(si), 3)),
            coords_are_cartesian=True,
        )
        for _ in range(n)
    ]


def run_once(command: list[str], env: dict[str, str], work: Path) -> dict[str, Any]:
    """Run ``command``; its wall time (s), peak RSS (MB) and last line of output."""
    with (work / "stdout").open("wb") as out, (work / "stderr").open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        tail = (work / "stderr").read_text()[-2000:]
        raise RuntimeError(f"{command[:3]} failed ({code}): {tail}")
    return {
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "stdout": (work / "stdout").read_text(),
    }


def main() -> None:
    """Run the variants and write ``whole_process.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs=2, default=(8, 32))
    parser.add_argument(
        "--src",
        action="append",
        default=[],
        metavar="LABEL=PATH",
        help="run `pesbench predict` on this src/ folder (default: pesbench=src, this checkout)",
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pesbench-predict-"))
    files = []
    for k, structure in enumerate(cells(max(args.sizes))):
        path = work / f"si64_{k:02d}.json"
        path.write_text(structure.to_json())
        files.append(str(path))
    env = {**os.environ, "PESBENCH_TORCH_THREADS": "1", "PESBENCH_DEVICE": "cpu"}
    env["PESBENCH_DATA_DIR"] = str(work / "data")
    env["OMP_NUM_THREADS"] = "1"
    pesbench = str(Path(sys.executable).with_name("pesbench"))
    variants: dict[str, tuple[list[str], dict[str, str]]] = {
        "stock": ([sys.executable, "-c", STOCK], env),
    }
    default = str(Path(__file__).resolve().parents[2] / "src")
    sources = dict(item.split("=", 1) for item in args.src) or {"pesbench": default}
    for label, src in sources.items():
        other_env = {**env, "PYTHONPATH": str(Path(src).resolve())}
        variants[label] = ([pesbench, "predict", "--atom-budget", "64", "--json"], other_env)

    runs: list[dict[str, Any]] = []
    started = datetime.now(UTC).isoformat(timespec="seconds")
    names = list(variants)
    for repeat in range(args.repeats):
        order = names if repeat % 2 == 0 else names[::-1]
        sizes = list(args.sizes) if repeat % 2 == 0 else list(args.sizes)[::-1]
        load = os.getloadavg()[0]
        for name in order:
            for n in sizes:
                command, variant_env = variants[name]
                result = run_once([*command, *files[:n]], variant_env, work)
                if name == "stock":
                    assert result["stdout"].split()[-2] == str(n)
                else:
                    predictions = json.loads(result["stdout"])["predictions"]
                    assert len(predictions) == n
                    assert all(p["status"] == "success" for p in predictions)
                del result["stdout"]
                runs.append({"repeat": repeat, "variant": name, "n": n, "load1": load, **result})
                print(json.dumps(runs[-1]), flush=True)
    finished = datetime.now(UTC).isoformat(timespec="seconds")
    shutil.rmtree(work, ignore_errors=True)

    small, large = args.sizes
    summary: dict[str, Any] = {}
    for name in names:
        per_repeat = []
        for repeat in range(args.repeats):
            mine = {r["n"]: r for r in runs if r["variant"] == name and r["repeat"] == repeat}
            extra = mine[large]["seconds"] - mine[small]["seconds"]
            extra_cpu = mine[large]["cpu_seconds"] - mine[small]["cpu_seconds"]
            per_repeat.append(
                {
                    "cells_per_s": (large - small) / extra,
                    "cells_per_cpu_s": (large - small) / extra_cpu,
                    "peak_rss_mb_large": mine[large]["peak_rss_mb"],
                    "peak_rss_mb_small": mine[small]["peak_rss_mb"],
                    "seconds_small": mine[small]["seconds"],
                    "seconds_large": mine[large]["seconds"],
                    "cpu_seconds_small": mine[small]["cpu_seconds"],
                    "cpu_seconds_large": mine[large]["cpu_seconds"],
                }
            )
        summary[name] = {
            key: {
                "median": statistics.median(p[key] for p in per_repeat),
                "min": min(p[key] for p in per_repeat),
                "max": max(p[key] for p in per_repeat),
                "per_repeat": [p[key] for p in per_repeat],
            }
            for key in per_repeat[0]
        }
    ratios: dict[str, Any] = {}
    for name in names:
        if name == "stock":
            continue
        throughput = [
            a / b
            for a, b in zip(
                summary[name]["cells_per_s"]["per_repeat"],
                summary["stock"]["cells_per_s"]["per_repeat"],
                strict=True,
            )
        ]
        memory = [
            a / b
            for a, b in zip(
                summary[name]["peak_rss_mb_large"]["per_repeat"],
                summary["stock"]["peak_rss_mb_large"]["per_repeat"],
                strict=True,
            )
        ]
        per_cpu = [
            a / b
            for a, b in zip(
                summary[name]["cells_per_cpu_s"]["per_repeat"],
                summary["stock"]["cells_per_cpu_s"]["per_repeat"],
                strict=True,
            )
        ]
        ratios[f"{name}/stock"] = {
            "cpu_throughput_per_repeat": per_cpu,
            "cpu_throughput_median": statistics.median(per_cpu),
            "throughput_per_repeat": throughput,
            "throughput_median": statistics.median(throughput),
            "throughput_of_medians": summary[name]["cells_per_s"]["median"]
            / summary["stock"]["cells_per_s"]["median"],
            "peak_rss_per_repeat": memory,
            "peak_rss_median": statistics.median(memory),
        }
    payload = {
        "benchmark": "whole-process CHGNet 0.3.0 prediction, 64-atom Si cells (issue 14)",
        "started": started,
        "finished": finished,
        "sizes": [small, large],
        "repeats": args.repeats,
        "machine": machine("cpu"),
        "variants": {name: " ".join(cmd[:4]) + " ..." for name, (cmd, _) in variants.items()},
        "stock_script": STOCK,
        "sources": sources,
        "summary": summary,
        "ratios": ratios,
        "runs": runs,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "whole_process.json").write_text(json.dumps(payload, indent=2) + "\n")
    print(json.dumps(ratios, indent=2))


if __name__ == "__main__":
    main()
