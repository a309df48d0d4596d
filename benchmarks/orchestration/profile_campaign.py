"""Where a campaign's orchestration time goes: cProfile of one campaign with a cheap model.

The campaign of ``run.py`` (same bulks, same generator and seed, ``functionals: []``) with
EMT (``ase:ase.calculators.emt.EMT``, a forward pass of microseconds per atom) in place of
CHGNet, so that what is left is orchestration. One campaign, jobflow or FireWorks, on a
fresh private mongod; prints the wall time, the time in forward passes, and the functions
with the largest cumulative time (``--top``); ``--out`` keeps the raw ``.prof``.

    .venv/bin/python benchmarks/orchestration/profile_campaign.py --backend fireworks --per-bulk 250
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import TIMINGS, campaign_fireworks, campaign_jobflow, instrument, write_spec

CHEAP_MODEL = "ase:ase.calculators.emt.EMT"


def main() -> None:
    """Profile one campaign; print the summary and the top functions."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("jobflow", "fireworks"), default="jobflow")
    parser.add_argument("--per-bulk", type=int, default=250, help="structures per bulk (x4)")
    parser.add_argument("--chunk-size", type=int, default=50)
    parser.add_argument("--model", default=CHEAP_MODEL)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--out", type=Path, default=None, help="write the .prof here")
    args = parser.parse_args()

    from pesbench.settings import override_settings
    from pesbench.stores import LocalMongoServer

    instrument()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        server = LocalMongoServer(root / "mongod")
        state, _ = server.start()
        try:
            spec_path = write_spec(root, "orch-profile", args.per_bulk, args.chunk_size)
            spec = yaml.safe_load(spec_path.read_text())
            spec["models"] = [args.model]
            spec_path.write_text(yaml.safe_dump(spec))
            with override_settings(
                db_uri=state.uri, db_name="orch_profile", data_dir=root / "data"
            ) as settings:
                profiler = cProfile.Profile()
                start = time.perf_counter()
                profiler.enable()
                if args.backend == "jobflow":
                    campaign_jobflow(spec_path, settings)
                else:
                    campaign_fireworks(spec_path, settings, root / "launches", 1.0)
                profiler.disable()
                wall = time.perf_counter() - start
        finally:
            server.stop()
    print(f"{args.backend}: wall {wall:.1f} s (under the profiler)")
    for name, seconds in sorted(TIMINGS.items(), key=lambda kv: -kv[1]):
        print(f"  {seconds:7.2f} s  {name}")
    if args.out is not None:
        profiler.dump_stats(str(args.out))
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(args.top)
    print(text.getvalue())


if __name__ == "__main__":
    main()
