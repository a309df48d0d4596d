"""Chaos test of a campaign under FireWorks: workers SIGKILLed, the managed mongod restarted.

A campaign on the EMT fake DFT engine (``pesbench.testing.emt:EmtEngine``) with the EMT
model (``ase:ase.calculators.emt.EMT``) over rattled and strained fcc metals (Cu, Al, Ni,
Ag, Au, Pd, Pt; category ``high_energy``, ``--structures`` in all) is submitted with
``pesbench submit`` to a fresh data folder (its own managed ``mongod``). ``pesbench
worker`` subprocesses (``--dft-workers`` of category ``dft``, ``--mlip-workers`` of
category ``mlip``) run it, respawned whenever one dies while work is left. Meanwhile

- a random worker (one past its start-up when any is) gets SIGKILL (its whole process
  group) every ``--kill-every`` seconds (uniform), ``--kills`` times; what it was doing is
  read from ``/proc/<pid>/cwd`` (the FireWorks launch folder) and the launch it belongs to,
  and the killed job's final state and number of launches are checked at the end;
- the worker running the plan job is killed on purpose (``--plan-kills``): once while
  the job runs, once while FireWorks inserts the jobs the plan made (what
  ``pesbench resume`` must repair: a stale workflow lock, orphan jobs, the plan RUNNING
  with a COMPLETED launch);
- the managed mongod is stopped (``pesbench db stop``, or SIGKILL) ``--restarts`` times,
  at evenly spaced fractions of the campaign's jobs, held down for ``--down-s`` seconds,
  then started again with ``pesbench db start``;
- ``pesbench resume <campaign> --lost-after L`` runs ``L`` + a few seconds after each
  kill and after each restart (FireWorks pings every ``--ping-s`` from live jobs, set in
  the workers' ``FW_config.yaml``, so a live job is never taken for a lost one).

At the end (or at ``--timeout``) the workers are stopped and the database is checked:
every planned reference (structure, functional, input hash) and prediction (structure,
model checksum) has exactly one document, with status success; nothing is missing,
duplicated or extra; every FireWorks job completed; the campaign's finish job ran.
``results.json`` holds the counts, every kill and restart, and the anomalies;
``RESULTS.md`` is written from it.

Usage: ``python benchmarks/chaos/run.py`` (full size: 210 structures, 20 kills, 2 restarts);
small: ``--structures 21 --kills 2 --restarts 1 --out /tmp/chaos/results.json``
(RESULTS.md goes next to ``--out``; ``report.py`` rewrites it from a results file).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pymatgen.core import Lattice, Structure
from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import PyMongoError

from pesbench.settings import reset_settings
from pesbench.stores.claims import LEASE_S
from pesbench.stores.server import LocalMongoServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench_common
sys.path.insert(0, str(Path(__file__).resolve().parent))  # checks, report
from bench_common import machine
from checks import check, verdict

from report import write_markdown

HERE = Path(__file__).parent
PESBENCH = [str(Path(sys.executable).parent / "pesbench")]
ENGINE = "pesbench.testing.emt:EmtEngine"
"""The fake DFT engine, by import path (the worker subprocesses import it)."""
MODEL = "ase:ase.calculators.emt.EMT"
"""The model: ASE's EMT itself, so every prediction equals its PBE reference."""
METALS = {"Cu": 3.61, "Al": 4.05, "Ni": 3.52, "Ag": 4.09, "Au": 4.08, "Pd": 3.89, "Pt": 3.92}
"""fcc metals EMT knows, with their lattice constants (Å)."""
DB_NAME = "chaos"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# ---------------------------------------------------------------- setup


def write_campaign(folder: Path, name: str, n_structures: int, args: argparse.Namespace) -> Path:
    """Write the bulk CIFs and the spec: ``n_structures`` spread over the seven metals."""
    per_metal = math.ceil(n_structures / len(METALS))
    n_rattled = max(1, math.ceil(per_metal / 4))  # 4 sigmas; the strains come after them
    for symbol, a in METALS.items():
        bulk = Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), [symbol], [[0, 0, 0]])
        bulk.to(filename=str(folder / f"{symbol}.cif"))
    overrides = {"sleep_s": args.sleep_s} if args.sleep_s else {}
    spec = {
        "name": name,
        "structures": [f"{symbol}.cif" for symbol in METALS],
        "categories": {
            "high_energy": {
                "sigmas_A": [0.05, 0.1, 0.15, 0.2],
                "n_rattled": n_rattled,
                "strains": [-0.03, 0.03],
                "md_snapshots": 0,
                "min_length_A": 5.0,
            }
        },
        "max_per_category": per_metal,
        "functionals": args.functionals,
        "dft": {"engine": ENGINE, "overrides": overrides},
        "models": [MODEL],
        "chunk_size": args.chunk_size,
        "resources": {"dft": {"cores": 1}},
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def environment(data_dir: Path, fw_config: Path) -> dict[str, str]:
    """This environment without PESBENCH_*, plus the chaos data folder and database."""
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("PESBENCH_")}
    return {
        **clean,
        "PESBENCH_DATA_DIR": str(data_dir),
        "PESBENCH_DB_NAME": DB_NAME,
        "FW_CONFIG_FILE": str(fw_config),
        "OMP_NUM_THREADS": "1",
    }


# ---------------------------------------------------------------- the supervisor


@dataclass
class Worker:
    """A ``pesbench worker`` subprocess (its own process group)."""

    slot: int
    category: str
    proc: subprocess.Popen[bytes]
    started: float
    log: Path


@dataclass
class Chaos:
    """Runs the campaign, the workers, the kills, the restarts and the resumes."""

    args: argparse.Namespace
    run_dir: Path
    data_dir: Path
    env: dict[str, str]
    name: str
    t0: float = field(default_factory=time.monotonic)
    workers: dict[int, Worker] = field(default_factory=dict)
    kills: list[dict[str, Any]] = field(default_factory=list)
    restarts: list[dict[str, Any]] = field(default_factory=list)
    resumes: list[dict[str, Any]] = field(default_factory=list)
    exits: list[dict[str, Any]] = field(default_factory=list)
    anomalies: list[str] = field(default_factory=list)
    spawned: int = 0
    resume_at: list[float] = field(default_factory=list)
    plan_kills: list[str] = field(default_factory=list)
    """Targeted plan kills still to do ('run', 'update')."""
    respawn_after: dict[int, float] = field(default_factory=dict)
    db_down: bool = False
    _client: tuple[str, MongoClient] | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def server(self) -> LocalMongoServer:
        return LocalMongoServer(self.data_dir / "mongodb")

    def elapsed(self) -> float:
        return round(time.monotonic() - self.t0, 1)

    def cli(self, *argv: str, timeout: float = 180) -> tuple[int, str]:
        """Run ``pesbench <argv>``; return its exit code and its output's last lines."""
        proc = subprocess.run(
            [*PESBENCH, *argv],
            env=self.env,
            cwd=self.run_dir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        text = (proc.stdout + proc.stderr).strip()
        return proc.returncode, " ".join(text.splitlines()[-3:])

    def database(self) -> Database | None:
        """The chaos database if mongod runs now (never starts it)."""
        state = self.server.status()
        if state is None:
            return None
        if self._client is None or self._client[0] != state.uri:
            if self._client is not None:
                self._client[1].close()
            client: MongoClient = MongoClient(state.uri, serverSelectionTimeoutMS=2000)
            self._client = (state.uri, client)
        return self._client[1][DB_NAME]

    # ---- progress

    def fw_states(self) -> dict[str, Counter[str]] | None:
        """FireWorks states per job kind ("reference", "predict", ...), None if DB is down."""
        db = self.database()
        if db is None:
            return None
        try:
            counts: dict[str, Counter[str]] = {}
            for fw in db.fireworks.find({}, {"name": 1, "state": 1}):
                counts.setdefault(job_kind(fw["name"]), Counter())[fw["state"]] += 1
            return counts
        except PyMongoError:
            return None

    # ---- workers

    def spawn(self, slot: int, category: str) -> None:
        self.spawned += 1
        log = self.data_dir / "logs" / f"worker-{self.spawned:03d}-{category}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [*PESBENCH, "worker", "--category", category],
                env=self.env,
                cwd=self.run_dir,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.workers[slot] = Worker(slot, category, proc, time.monotonic(), log)

    def reap(self, work_left: dict[str, bool]) -> None:
        """Note workers that ended; respawn their slot while their category has work."""
        with self.lock:
            self._reap(work_left)

    def _reap(self, work_left: dict[str, bool]) -> None:
        slots = [("dft", i) for i in range(self.args.dft_workers)]
        slots += [("mlip", self.args.dft_workers + i) for i in range(self.args.mlip_workers)]
        for category, slot in slots:
            worker = self.workers.get(slot)
            if worker is not None and worker.proc.poll() is not None:
                rc = worker.proc.returncode
                killed = any(k["pid"] == worker.proc.pid for k in self.kills)
                if not killed:
                    tail = worker.log.read_text(errors="replace").strip().splitlines()[-1:]
                    self.exits.append(
                        {
                            "t_s": self.elapsed(),
                            "category": category,
                            "rc": rc,
                            "alive_s": round(time.monotonic() - worker.started, 1),
                            "last_line": tail[0][:300] if tail else "",
                            "log": worker.log.name,
                        }
                    )
                    # an ended worker that found nothing to do waits a little before the next
                    self.respawn_after[slot] = time.monotonic() + (10 if rc == 0 else 2)
                del self.workers[slot]
            if (
                slot not in self.workers
                and work_left.get(category, False)
                and not self.db_down
                and time.monotonic() >= self.respawn_after.get(slot, 0)
            ):
                self.spawn(slot, category)

    def stop_workers(self) -> None:
        for worker in list(self.workers.values()):
            if worker.proc.poll() is None:
                os.killpg(worker.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for worker in list(self.workers.values()):
            try:
                worker.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(worker.proc.pid, signal.SIGKILL)
                worker.proc.wait()
        self.workers.clear()

    # ---- kills

    def kill_one(self) -> None:
        live = [(w, self.doing(w)) for w in self.workers.values() if w.proc.poll() is None]
        if not live:
            return
        # a worker still importing is killed only when no other runs: kills land in jobs
        started = [(w, d) for w, d in live if not d["phase"].startswith("starting")]
        if self.args.spare_plan:  # see --spare-plan
            live = [(w, d) for w, d in live if d.get("job") != "plan"]
            started = [(w, d) for w, d in started if d.get("job") != "plan"]
            if not live:
                return
        worker, where = random.choice(started or live)
        self.kill(worker, where)

    def kill(self, worker: Worker, where: dict[str, Any], target: str | None = None) -> None:
        with self.lock:  # the plan killer thread kills too: a kill is recorded before reaped
            self._kill(worker, where, target)

    def _kill(self, worker: Worker, where: dict[str, Any], target: str | None) -> None:
        if worker.proc.poll() is not None:
            return
        os.killpg(worker.proc.pid, signal.SIGKILL)
        worker.proc.wait()
        self.kills.append(
            {
                "t_s": self.elapsed(),
                "pid": worker.proc.pid,
                "category": worker.category,
                "worker_age_s": round(time.monotonic() - worker.started, 1),
                **({"target": f"plan ({target})"} if target else {}),
                **where,
            }
        )
        self.resume_at.append(time.monotonic() + self.args.lost_after + 3)

    def kill_plan(self) -> None:
        """Thread: the targeted kills of the worker running the plan job, polled every 50 ms.

        'run': as soon as the plan job runs (its last launch RUNNING); 'update': as soon as
        its launch is COMPLETED while the job is still RUNNING (FireWorks inserting the jobs
        the plan made, under the workflow's lock). Ends when the plan job completed.
        """
        client: MongoClient | None = None
        while self.plan_kills and not self.finished.is_set():
            time.sleep(0.05)
            state = self.server.status()
            if state is None:
                continue
            try:
                if client is None:
                    client = MongoClient(state.uri, serverSelectionTimeoutMS=2000)
                db = client[DB_NAME]
                fw = db.fireworks.find_one({"name": {"$regex": "^plan "}})
                if fw is None or not fw.get("launches"):
                    continue
                if fw["state"] == "COMPLETED":
                    return
                launch = db.launches.find_one({"launch_id": fw["launches"][-1]})
            except PyMongoError:
                client = None
                continue
            if launch is None or fw["state"] != "RUNNING":
                continue
            mode = self.plan_kills[0]
            if launch["state"] != {"run": "RUNNING", "update": "COMPLETED"}[mode]:
                continue
            folder = Path(launch["launch_dir"])
            with self.lock:
                workers = list(self.workers.values())
            for worker in workers:
                try:
                    cwd = Path(os.readlink(f"/proc/{worker.proc.pid}/cwd"))
                except OSError:
                    continue
                if cwd == folder or folder in cwd.parents:
                    where = {
                        "phase": "running a job",
                        "job": "plan",
                        "job_name": fw["name"],
                        "fw_id": fw["fw_id"],
                        "fw_state": fw["state"],
                        "launch_state": launch["state"],
                    }
                    self.kill(worker, where, target=mode)
                    self.plan_kills.pop(0)
                    break

    def doing(self, worker: Worker) -> dict[str, Any]:
        """What the worker does now: starting, polling, or which job in which state."""
        try:
            cwd = Path(os.readlink(f"/proc/{worker.proc.pid}/cwd"))
        except OSError:
            return {"phase": "unknown"}
        launches = self.data_dir / "fireworks"
        if cwd == self.run_dir:
            return {"phase": "starting (imports, database check)"}
        if cwd == launches:
            return {"phase": "polling for a ready job"}
        launch_dir = next((p for p in [cwd, *cwd.parents] if p.parent == launches), None)
        if launch_dir is None:
            return {"phase": f"in {cwd}"}
        db = self.database()
        if db is None:
            return {"phase": "in a launch (database down)"}
        try:
            launch = db.launches.find_one({"launch_dir": str(launch_dir)})
            if launch is None:
                return {"phase": "checking out a job (launch folder made, no launch yet)"}
            fw = db.fireworks.find_one({"fw_id": launch["fw_id"]}, {"name": 1, "state": 1}) or {}
            return {
                "phase": "running a job",
                "job": job_kind(fw.get("name", "")),
                "job_name": fw.get("name"),
                "fw_id": launch["fw_id"],
                "fw_state": fw.get("state"),
                "launch_state": launch.get("state"),
            }
        except PyMongoError as exc:
            return {"phase": f"in a launch ({type(exc).__name__})"}

    def inconsistent(self) -> list[str]:
        """Jobs FireWorks cannot finish: RUNNING with an ended last launch, or in no workflow."""
        db = self.database()
        if db is None:
            return []
        try:
            found = []
            fields = {"fw_id": 1, "name": 1, "launches": 1}
            running = db.fireworks.find({"state": "RUNNING"}, fields)
            for fw in running:
                launch = db.launches.find_one({"launch_id": (fw.get("launches") or [0])[-1]})
                if launch is not None and launch["state"] != "RUNNING":
                    found.append(
                        f"job '{fw['name']}' (fw_id {fw['fw_id']}) is RUNNING but its last "
                        f"launch {launch['launch_id']} is {launch['state']}"
                    )
            nodes = {n for wf in db.workflows.find({}, {"nodes": 1}) for n in wf["nodes"]}
            orphans = db.fireworks.count_documents({"fw_id": {"$nin": list(nodes)}})
            if orphans:
                found.append(f"{orphans} FireWorks jobs belong to no workflow")
            return found
        except PyMongoError:
            return []

    # ---- resume and restarts

    def resume(self, why: str) -> None:
        rc, out = self.cli(
            "resume", self.name, "--lost-after", str(self.args.lost_after), "--lock-wait", "15"
        )
        self.resumes.append({"t_s": self.elapsed(), "why": why, "rc": rc, "output": out})
        self.resume_at = [t for t in self.resume_at if t > time.monotonic()]
        if rc != 0:
            self.anomalies.append(f"`pesbench resume` exited {rc} at {self.elapsed()} s: {out}")

    def restart_mongod(self, index: int, fraction: float) -> None:
        """Stop mongod (clean or SIGKILL), hold it down, start it again, then resume."""
        mode = "clean stop" if index % 2 == 0 else "SIGKILL"
        before = self.server.status()
        record: dict[str, Any] = {
            "t_s": self.elapsed(),
            "at_fraction_completed": round(fraction, 3),
            "mode": mode,
            "port_before": before.port if before else None,
            "pid_before": before.pid if before else None,
        }
        self.db_down = True
        if mode == "clean stop":
            rc, out = self.cli("db", "stop")
            record["stop"] = out
        elif before is not None:
            os.kill(before.pid, signal.SIGKILL)
            limit = time.monotonic() + 30
            while self.server.status() is not None and time.monotonic() < limit:
                time.sleep(0.05)
        gone = time.monotonic()
        record["stopped_after_s"] = round(gone - self.t0 - record["t_s"], 1)
        down_until = gone + self.args.down_s
        came_back = None
        while time.monotonic() < down_until:
            state = self.server.status()
            if state is not None and came_back is None:
                came_back = round(self.args.down_s - (down_until - time.monotonic()), 1)
            time.sleep(0.5)
        record["restarted_by_a_worker_after_s"] = came_back
        rc, out = self.cli("db", "start")
        after = self.server.status()
        record.update(
            start=out,
            start_rc=rc,
            port_after=after.port if after else None,
            pid_after=after.pid if after else None,
            same_port=bool(before and after and before.port == after.port),
            down_s=round(time.monotonic() - gone, 1),
        )
        self.db_down = False
        self.restarts.append(record)
        if not record["same_port"]:
            self.anomalies.append(f"mongod restart {index + 1} changed port: {record}")
        self.resume_at.append(time.monotonic() + self.args.lost_after + 3)

    # ---- the loop

    def run(self) -> str:
        """Supervise until the campaign finished, stalled or timed out; return which."""
        deadline = self.t0 + self.args.timeout
        low, high = self.args.kill_every
        next_kill = time.monotonic() + random.uniform(low, high)
        thresholds = [(i + 1) / (self.args.restarts + 1) for i in range(self.args.restarts)]
        threading.Thread(target=self.kill_plan, daemon=True).start()
        try:
            return self._run(deadline, low, high, next_kill, thresholds)
        finally:
            self.finished.set()

    def _run(
        self, deadline: float, low: float, high: float, next_kill: float, thresholds: list[float]
    ) -> str:
        last_counts: Any = None
        last_change = time.monotonic()
        stall_resumed = False
        stuck_since: float | None = None
        resumes_then = 0
        while time.monotonic() < deadline:
            states = self.fw_states()
            if states is None:
                time.sleep(1)
                continue
            total = sum(sum(c.values()) for c in states.values())
            done = sum(c["COMPLETED"] for c in states.values())
            planned = states.get("plan", Counter())["COMPLETED"] > 0
            if states.get("finish") and done == total:
                return "finished"
            work_left = {
                "dft": True,
                "mlip": planned
                and states.get("predict", Counter())["COMPLETED"]
                < sum(states.get("predict", Counter()).values()),
            }
            self.reap(work_left)
            fraction = done / total if planned else 0.0
            snapshot = sorted((k, sorted(c.items())) for k, c in states.items())
            if snapshot != last_counts:
                last_counts, last_change, stall_resumed = snapshot, time.monotonic(), False
            if len(self.restarts) < len(thresholds) and fraction >= thresholds[len(self.restarts)]:
                self.restart_mongod(len(self.restarts), fraction)
                continue
            random_kills = sum("target" not in kill for kill in self.kills)
            if random_kills < self.args.kills and time.monotonic() >= next_kill:
                self.kill_one()
                next_kill = time.monotonic() + random.uniform(low, high)
            if self.resume_at and time.monotonic() >= min(self.resume_at):
                self.resume("after a kill or a restart")
            stuck = self.inconsistent()
            if not stuck or stuck_since is None:
                stuck_since = time.monotonic() if stuck else None
                resumes_then = len(self.resumes)
            elif time.monotonic() - stuck_since > 60 and len(self.resumes) - resumes_then < 2:
                # a resume may release a stale lock only; the next repairs what waited on it
                self.resume("inconsistent for 60 s")
                stuck_since = time.monotonic()
            elif time.monotonic() - stuck_since > 60:
                self.anomalies.append(
                    f"stuck for good at {self.elapsed()} s (`pesbench resume` does not touch "
                    f"these): {'; '.join(stuck)}"
                )
                return "stuck"
            stalled_s = time.monotonic() - last_change
            if stalled_s > self.args.stall_s:
                if stall_resumed:
                    self.anomalies.append(
                        f"stalled: no job changed state for {stalled_s:.0f} s "
                        f"at {self.elapsed()} s, even after a resume: {snapshot}"
                    )
                    return "stalled"
                self.anomalies.append(
                    f"no job changed state for {stalled_s:.0f} s at {self.elapsed()} s "
                    f"({snapshot}); resuming"
                )
                self.resume("stall")
                stall_resumed = True
                last_change = time.monotonic()
            time.sleep(0.5)
        self.anomalies.append(f"timed out after {self.args.timeout} s")
        return "timed out"


def job_kind(name: str) -> str:
    """The kind of a FireWorks job from its name: generate, plan, predict, finish, ..."""
    first = name.split()[0] if name else "?"
    return first.lower()


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--structures", type=int, default=210)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--restarts", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=2400, help="seconds (default 40 min)")
    parser.add_argument("--functionals", nargs="+", default=["PBE", "r2SCAN"])
    parser.add_argument("--sleep-s", type=float, default=2.0, help="EMT seconds per calc")
    parser.add_argument("--chunk-size", type=int, default=10)
    parser.add_argument("--dft-workers", type=int, default=4)
    parser.add_argument("--mlip-workers", type=int, default=1)
    parser.add_argument("--kill-every", type=float, nargs=2, default=[4.0, 10.0])
    parser.add_argument("--down-s", type=float, default=20.0, help="mongod held down (s)")
    parser.add_argument("--ping-s", type=int, default=3, help="FireWorks ping of live jobs")
    parser.add_argument("--lost-after", type=int, default=20, help="resume --lost-after")
    parser.add_argument(
        "--stall-s",
        type=float,
        default=LEASE_S + 120,
        help="no job changing state this long is a stall (a killed worker's claim blocks "
        "its key for LEASE_S)",
    )
    parser.add_argument(
        "--spare-plan",
        action="store_true",
        help="never kill a worker running the plan job (the random kills may hit it otherwise)",
    )
    parser.add_argument(
        "--plan-kills",
        nargs="*",
        choices=["run", "update"],
        default=["run", "update"],
        help="targeted kills of the worker running the plan job, in order: 'run' while the "
        "job runs, 'update' while FireWorks adds the jobs the plan made (its launch "
        "COMPLETED, the job still RUNNING); not counted in --kills",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    args = parser.parse_args()
    random.seed(args.seed)
    run_dir = Path(tempfile.mkdtemp(prefix="pesbench-chaos-"))
    data_dir = run_dir / "data"
    fw_config = run_dir / "FW_config.yaml"
    fw_config.write_text(yaml.safe_dump({"PING_TIME_SECS": args.ping_s, "RAPIDFIRE_SLEEP_SECS": 2}))
    env = environment(data_dir, fw_config)
    os.environ.update({k: env[k] for k in ("PESBENCH_DATA_DIR", "PESBENCH_DB_NAME")})
    reset_settings()
    name = "chaos"
    spec_path = write_campaign(run_dir, name, args.structures, args)
    started = now()
    load_start = [round(x, 2) for x in os.getloadavg()]
    chaos = Chaos(args, run_dir, data_dir, env, name, plan_kills=list(args.plan_kills))
    print(f"chaos: data in {run_dir}", flush=True)
    outcome = "not started"
    checks: dict[str, Any] = {}
    try:
        rc, out = chaos.cli("submit", str(spec_path), timeout=600)
        if rc != 0:
            raise RuntimeError(f"pesbench submit failed: {out}")
        outcome = chaos.run()
        chaos.stop_workers()
        if chaos.server.status() is None:
            chaos.cli("db", "start")
        db = chaos.database()
        if db is None:
            raise RuntimeError("mongod is not running for the final check")
        checks = check(db, spec_path, MODEL, chaos.kills)
    except Exception as exc:  # recorded: the results are written all the same
        outcome = outcome if outcome != "not started" else "error"
        chaos.anomalies.append(f"the supervisor failed: {type(exc).__name__}: {exc}")
    finally:
        chaos.stop_workers()
        chaos.cli("db", "stop")
    asked = {
        "structures": args.structures,
        "kills": args.kills,
        "restarts": args.restarts,
        "plan_kills": args.plan_kills,
    }
    anomalies = chaos.anomalies + verdict(checks, chaos.kills, chaos.restarts, asked, outcome)
    results = {
        "started": started,
        "command": "python benchmarks/chaos/run.py " + " ".join(sys.argv[1:]),
        "campaign": name,
        "metals": list(METALS),
        "engine": ENGINE,
        "model": MODEL,
        "arguments": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": machine("cpu"),
        "load_average_start": load_start,
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "outcome": outcome,
        "wall_s": chaos.elapsed(),
        "workers_spawned": chaos.spawned,
        "checks": checks,
        "kills": chaos.kills,
        "restarts": chaos.restarts,
        "resumes": chaos.resumes,
        "worker_exits": chaos.exits,
        "anomalies": anomalies,
    }
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    write_markdown(results, args.out.with_name("RESULTS.md"))
    print(f"chaos: {outcome}, {len(anomalies)} anomalies; results in {args.out}", flush=True)
    if not args.keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    return 0 if outcome == "finished" and not anomalies else 1


if __name__ == "__main__":
    raise SystemExit(main())
