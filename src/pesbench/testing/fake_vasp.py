"""The fake VASP executable: ``python path/to/fake_vasp.py '<json spec>'``.

Custodian launches it in the run folder. It checks the inputs pesbench wrote against a
reference folder's ``inputs/`` and copies its ``outputs/`` (atomate2's approach), after
printing recorded VASP errors on its first launches if asked to. It imports only
pymatgen's file readers, so that a launch is quick.
"""

from __future__ import annotations

import gzip
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from monty.io import zopen
from pymatgen.io.vasp import Incar, Kpoints, Poscar
from pymatgen.util.coord import find_in_coord_list_pbc, in_coord_list_pbc

__all__ = [
    "CHECKS",
    "RUN_COUNTER",
    "FakeVaspError",
    "check_inputs",
    "copy_outputs",
    "fake_run_vasp",
    "main",
]

CHECKS: tuple[str, ...] = ("incar", "kpoints", "poscar", "potcar")
"""Inputs a fake run checks by default ("wavecar" may be added)."""

_INCAR_DEFAULTS = {"ISPIN": 1, "ISMEAR": 1, "SIGMA": 0.2}
RUN_COUNTER = ".fake_vasp_runs"
"""File in the run folder counting the fake's launches (the first ones print errors)."""


class FakeVaspError(ValueError):
    """The inputs written differ from the reference folder's ``inputs/``."""


def _zpath(path: Path) -> Path:
    for candidate in (path, path.with_name(path.name + ".gz")):
        if candidate.exists():
            return candidate
    return path


def _check_incar(ref: Path, run_dir: Path, exclude: Sequence[str]) -> None:
    user = Incar.from_file(str(_zpath(run_dir / "INCAR")))
    ref_incar = Incar.from_file(str(_zpath(ref / "inputs" / "INCAR")))
    for key in sorted(set(user) - set(exclude)):
        got, want = user.get(key, _INCAR_DEFAULTS.get(key)), ref_incar.get(key)
        if want is None:
            want = _INCAR_DEFAULTS.get(key)
        if got != want:
            raise FakeVaspError(f"INCAR {key}: expected {want!r}, got {got!r} (reference {ref})")


def _check_kpoints(ref: Path, run_dir: Path) -> None:
    user, want = _zpath(run_dir / "KPOINTS"), _zpath(ref / "inputs" / "KPOINTS")
    if user.exists() != want.exists():
        which = "a KPOINTS file" if user.exists() else "KSPACING"
        raise FakeVaspError(f"pesbench wrote {which}; the reference {ref} does not use it")
    if user.exists():
        a, b = Kpoints.from_file(str(user)), Kpoints.from_file(str(want))
        if a.style != b.style or a.kpts != b.kpts:
            raise FakeVaspError(f"KPOINTS {a.style} {a.kpts} != reference {b.style} {b.kpts}")
        return
    got = Incar.from_file(str(_zpath(run_dir / "INCAR"))).get("KSPACING")
    ref_ks = Incar.from_file(str(_zpath(ref / "inputs" / "INCAR"))).get("KSPACING")
    if got != ref_ks:
        raise FakeVaspError(f"KSPACING: expected {ref_ks}, got {got} (reference {ref})")


def _check_poscar(ref: Path, run_dir: Path) -> None:
    user = Poscar.from_file(str(_zpath(run_dir / "POSCAR")))
    want = Poscar.from_file(str(_zpath(ref / "inputs" / "POSCAR")))
    same = (
        user.natoms == want.natoms
        and user.site_symbols == want.site_symbols
        and all(
            in_coord_list_pbc(want.structure.frac_coords, c, atol=1e-3)
            for c in user.structure.frac_coords
        )
    )
    if not same:
        raise FakeVaspError(f"POSCAR differs from the reference {ref}:\n{user}\n!=\n{want}")
    if user.selective_dynamics is not None or want.selective_dynamics is not None:
        _check_selective_dynamics(user, want, ref)


def _flags(poscar: Poscar) -> list[list[bool]]:
    flags = poscar.selective_dynamics
    if flags is None:
        return [[True] * 3 for _ in range(len(poscar.structure))]
    return np.asarray(flags, dtype=bool).reshape(-1, 3).tolist()


def _check_selective_dynamics(user: Poscar, want: Poscar, ref: Path) -> None:
    """Each site's flags equal those of the reference site at the same place."""
    got, expected = _flags(user), _flags(want)
    for i, coords in enumerate(user.structure.frac_coords):
        j = int(find_in_coord_list_pbc(want.structure.frac_coords, coords, atol=1e-3)[0])
        if got[i] != expected[j]:
            raise FakeVaspError(
                f"POSCAR selective dynamics of site {i}: expected {expected[j]}, got {got[i]} "
                f"(reference {ref})"
            )


def _symbols(folder: Path) -> list[str]:
    spec = _zpath(folder / "POTCAR.spec")
    if spec.exists():
        with zopen(spec, "rt") as handle:
            return handle.read().split()
    potcar = _zpath(folder / "POTCAR")
    if potcar.exists():
        from pymatgen.io.vasp import Potcar

        return list(Potcar.from_file(str(potcar)).symbols)
    raise FakeVaspError(f"no POTCAR or POTCAR.spec in {folder}")


def check_inputs(
    ref: Path,
    run_dir: Path,
    checks: Sequence[str] = CHECKS,
    incar_exclude: Sequence[str] = (),
) -> None:
    """Compare the inputs in ``run_dir`` with ``ref/inputs``; raise FakeVaspError if not equal.

    ``checks`` names what to compare: "incar" (every key pesbench wrote, except
    ``incar_exclude``), "kpoints", "poscar" (sites, and selective dynamics when either POSCAR
    has them), "potcar" (symbols), "wavecar" (one exists).
    """
    if "incar" in checks:
        _check_incar(ref, run_dir, incar_exclude)
    if "kpoints" in checks:
        _check_kpoints(ref, run_dir)
    if "poscar" in checks:
        _check_poscar(ref, run_dir)
    if "potcar" in checks and _symbols(run_dir) != _symbols(ref / "inputs"):
        got, want = _symbols(run_dir), _symbols(ref / "inputs")
        raise FakeVaspError(f"POTCARs {got} != reference {want}")
    if "wavecar" in checks and not (run_dir / "WAVECAR").is_file():
        raise FakeVaspError(
            "no WAVECAR in the run folder: the run does not start from a previous one"
        )


def copy_outputs(ref: Path, run_dir: Path) -> None:
    """Copy ``ref/outputs/*`` into ``run_dir``, gunzipping as VASP would have written them."""
    for src in sorted((ref / "outputs").iterdir()):
        if not src.is_file():
            continue
        if src.suffix == ".gz":
            with gzip.open(src, "rb") as fin, open(run_dir / src.stem, "wb") as fout:
                shutil.copyfileobj(fin, fout)
        else:
            shutil.copyfile(src, run_dir / src.name)


def fake_run_vasp(
    ref: Path,
    run_dir: Path,
    checks: Sequence[str] = CHECKS,
    incar_exclude: Sequence[str] = (),
    errors: Sequence[Path] = (),
) -> int:
    """One launch of the fake VASP in ``run_dir``; returns its exit code.

    Launch ``k`` (counted in ``run_dir/.fake_vasp_runs``) prints ``errors[k]`` while
    ``k < len(errors)`` (to stderr for ``std_err*`` files, else stdout) and exits 1, as a
    failing VASP would. Later launches check the inputs, copy the outputs and exit 0.
    """
    counter = run_dir / RUN_COUNTER
    launch = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(launch + 1))
    if launch < len(errors):
        path = Path(errors[launch])
        with zopen(path, "rt", errors="replace") as handle:
            text = handle.read()
        stream = sys.stderr if path.name.startswith("std_err") else sys.stdout
        stream.write(text)
        return 1
    check_inputs(ref, run_dir, checks, incar_exclude)
    copy_outputs(ref, run_dir)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run once in the current folder; print what differs and exit 3 on bad inputs."""
    args = sys.argv[1:] if argv is None else argv
    spec = json.loads(args[0])
    try:
        return fake_run_vasp(
            Path(spec["ref"]),
            Path.cwd(),
            checks=spec["checks"],
            incar_exclude=spec["incar_exclude"],
            errors=[Path(e) for e in spec["errors"]],
        )
    except FakeVaspError as exc:
        print(f"fake VASP: inputs differ from the reference: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
