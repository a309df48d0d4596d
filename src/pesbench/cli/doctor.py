"""``pesbench doctor``: one table of what this machine has, and how to fix what it lacks."""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import typer
from rich.table import Table

from pesbench.cli.console import console
from pesbench.engines.gpaw import GpawEngine
from pesbench.engines.gpaw.run import gpaw_command
from pesbench.engines.vasp import VaspEngine, potcar_dir
from pesbench.errors import PesbenchError
from pesbench.mlip.registry import model_status
from pesbench.settings import PesbenchSettings, get_settings, redact_uri
from pesbench.stores import find_mongod, local_server, ping

__all__ = ["Check", "doctor", "run_checks"]

OK, MISSING, FAILED = "ok", "missing", "FAILED"


@dataclass
class Check:
    """One row of the doctor's table."""

    component: str
    status: str  # OK, MISSING (optional, not there) or FAILED (needed, broken)
    detail: str
    fix: str = ""


def _pkg_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def check_settings(settings: PesbenchSettings) -> Check:
    """Where the settings came from."""
    source = f"file {settings.config}" if settings.config else "environment and defaults"
    return Check("settings", OK, f"{source}; data in {settings.data_dir}")


def check_database(settings: PesbenchSettings) -> Check:
    """The configured MongoDB answers, or the managed server can run."""
    if settings.db_uri:
        found = ping(settings.db_uri, timeout_ms=3000)
        if found is None:
            return Check(
                "MongoDB (PESBENCH_DB_URI)",
                FAILED,
                f"{redact_uri(settings.db_uri)} does not answer",
                "start that server or correct PESBENCH_DB_URI; unset it to use a managed local one",
            )
        return Check(
            "MongoDB (PESBENCH_DB_URI)", OK, f"MongoDB {found}, database {settings.db_name}"
        )
    try:
        mongod = find_mongod(settings.mongod_path)
    except PesbenchError as exc:
        return Check("MongoDB (managed)", FAILED, "no mongod binary", str(exc))
    state = local_server(settings).status()
    running = f"running at {state.uri}" if state else "not running (starts on demand)"
    return Check("MongoDB (managed)", OK, f"{running}; mongod {mongod}")


def check_gpaw(settings: PesbenchSettings) -> Check:
    """The local DFT engine, for real.

    GPAW starts under the MPI launcher, r2SCAN is in its libxc, its PAW datasets are found.
    """
    needed = FAILED if settings.dft_engine == "gpaw" else MISSING
    component = "DFT: GPAW (local engine)"
    fix = "run `make setup` as root (scripts/install-gpaw.sh builds libxc and GPAW)"
    if _pkg_version("gpaw") is None:
        return Check(component, needed, "not installed", fix)
    engine = GpawEngine(settings)
    try:
        info = engine.probe()
    except PesbenchError as exc:
        return Check(component, needed, str(exc), fix)
    fhc = "FHC check off" if info["libxc_fhc_disabled"] else "FHC check ON"
    prefix = Path(info["libxc_path"]).parent.parent if info.get("libxc_path") else "?"
    detail = (
        f"GPAW {info['gpaw_version']}, libxc {info.get('libxc_version') or '?'} "
        f"({fhc}, {prefix}), r2SCAN ok, PAW datasets gpaw-data {_pkg_version('gpaw-data')}, "
        f"`{' '.join(gpaw_command(settings, cores=1)[:-2])}` ok"
    )
    if not info["libxc_fhc_disabled"]:
        return Check(
            component,
            OK,
            detail,
            "optional: r2SCAN slabs may not converge with this libxc; `GPAW_FORCE=1 make setup`",
        )
    return Check(component, OK, detail)


def check_vasp(settings: PesbenchSettings) -> Check:
    """VASP for production references: command, POTCARs, atomate2 and custodian."""
    needed = FAILED if settings.dft_engine == "vasp" else MISSING
    exe = next((tok for tok in shlex.split(settings.vasp_cmd) if "vasp" in tok), None)
    found = shutil.which(exe) if exe else None
    potcars = potcar_dir(settings)
    has_potcars = potcars is not None and potcars.is_dir()
    libs = f"atomate2 {_pkg_version('atomate2')}, custodian {_pkg_version('custodian')}"
    detail = (
        f"command '{settings.vasp_cmd}': {found or 'not found'}; POTCARs: "
        + (str(potcars) if has_potcars else "not configured")
        + f"; {libs}"
    )
    reason = VaspEngine(settings).unavailable_reason()
    if reason is None:
        return Check("DFT: VASP", OK, detail)
    return Check("DFT: VASP", needed, detail, reason)


def check_chgnet(settings: PesbenchSettings) -> Check:
    """CHGNet: its wheel ships the weights, so it loads (and passes the sanity check) offline."""
    status = model_status("chgnet-0.3.0", settings)
    if not status.ok:
        return Check("uMLIP: CHGNet", FAILED, status.detail, "reinstall pesbench (`make setup`)")
    return Check("uMLIP: CHGNet", OK, f"chgnet-0.3.0 loads: {status.detail}")


def check_sevennet(settings: PesbenchSettings) -> Check:
    """SevenNet: its wheel ships 7net-0, 7net-l3i5 and 7net-mf-0, which load offline."""
    status = model_status("7net-0", settings)
    if not status.ok:
        return Check(
            "uMLIP: SevenNet",
            FAILED,
            status.detail,
            "reinstall pesbench (`make setup`: sevenn needs e3nn 0.5.0 or 0.5.1)",
        )
    return Check(
        "uMLIP: SevenNet",
        OK,
        f"sevenn {_pkg_version('sevenn')}; 7net-0 loads ({status.detail}); also "
        "7net-l3i5, 7net-mf-0:PBE, 7net-mf-0:r2SCAN",
    )


def _files(folders: list[Path], patterns: tuple[str, ...]) -> list[Path]:
    return sorted({p for d in folders if d.is_dir() for pat in patterns for p in d.rglob(pat)})


def check_mace(settings: PesbenchSettings) -> Check:
    """MACE model files on disk (MACE-MP-0 is downloaded on first use, which fails offline)."""
    import os

    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mace"
    files = _files([settings.models_path, cache], ("*.model",))
    detail = f"mace-torch {_pkg_version('mace-torch')}; model files: {len(files)}"
    if files:
        return Check("uMLIP: MACE", OK, detail + " (found, not yet loaded)")
    return Check(
        "uMLIP: MACE",
        MISSING,
        detail,
        f"put a MACE .model file (e.g. MACE-MP-0 medium) in {settings.models_path}, "
        f"or run once with internet so that mace caches it in {cache}",
    )


def check_matgl(settings: PesbenchSettings) -> Check:
    """Matgl model folders on disk (its hub cannot be reached offline)."""
    cache = Path.home() / ".cache" / "matgl"
    folders = sorted({p.parent for p in _files([settings.models_path, cache], ("model.json",))})
    detail = f"matgl {_pkg_version('matgl')}; model folders: {len(folders)}"
    if folders:
        return Check("uMLIP: M3GNet/matgl", OK, detail + " (found, not yet loaded)")
    return Check(
        "uMLIP: M3GNet/matgl",
        MISSING,
        detail,
        f"put a model folder saved by matgl {_pkg_version('matgl')} in {settings.models_path} "
        "(matgl's hub needs internet)",
    )


def check_gpu(settings: PesbenchSettings) -> Check:
    """A CUDA device for the uMLIPs (optional)."""
    import torch

    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        return Check("GPU", OK, f"{torch.cuda.device_count()} x {name}, torch {torch.__version__}")
    needed = FAILED if settings.device == "cuda" else MISSING
    return Check(
        "GPU",
        needed,
        f"none (torch {torch.__version__}); uMLIPs run on the CPU",
        "optional: a CUDA build of torch on a GPU machine",
    )


CHECKS: tuple[Callable[[PesbenchSettings], Check], ...] = (
    check_settings,
    check_database,
    check_gpaw,
    check_vasp,
    check_chgnet,
    check_sevennet,
    check_mace,
    check_matgl,
    check_gpu,
)


def run_checks(settings: PesbenchSettings | None = None) -> list[Check]:
    """Run every check; a check that crashes becomes a FAILED row."""
    settings = settings or get_settings()
    rows = []
    for check in CHECKS:
        try:
            rows.append(check(settings))
        except PesbenchError as exc:
            rows.append(Check(check.__name__.removeprefix("check_"), FAILED, str(exc)))
    return rows


def doctor() -> None:
    """Check what this machine has: database, DFT engines, uMLIP models, GPU.

    Exits 1 when something the current settings need is broken (the database, the
    chosen DFT engine, a requested GPU); missing optional parts only show.
    """
    rows = run_checks()
    table = Table(title="pesbench doctor", show_lines=True)
    for column in ("component", "status", "details", "how to fix"):
        table.add_column(column, overflow="fold")
    colour = {OK: "green", MISSING: "yellow", FAILED: "bold red"}
    for row in rows:
        table.add_row(row.component, f"[{colour[row.status]}]{row.status}[/]", row.detail, row.fix)
    console.print(table)
    if any(row.status == FAILED for row in rows):
        raise typer.Exit(1)
