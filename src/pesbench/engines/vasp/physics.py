"""What a VASP run computes: its functional, and the settings that change the physics.

The same two functions read the inputs pesbench writes (before a run) and the INCAR that
VASP echoes into vasprun.xml (after it), so that a reference's ``input_hash`` is known
before the run and equal to the one parsed from its outputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pymatgen.io.vasp import Kpoints

from pesbench.errors import PesbenchError
from pesbench.schemas.base import Functional

__all__ = ["UnsupportedRunError", "functional_from_incar", "physics_settings"]

_GGA_NAMES = {"PE": "PBE", "PS": "PBEsol"}
"""GGA tag (upper case) -> functional name; an unset GGA means the POTCAR's PBE."""
_METAGGA_NAMES = {"R2SCAN": "r2SCAN", "SCAN": "SCAN"}
"""METAGGA tag (upper case) -> functional name."""


class UnsupportedRunError(PesbenchError):
    """A run whose functional has no name in ``schemas.base.Functional``."""


def _tag(incar: Mapping[str, Any], key: str) -> str | None:
    value = incar.get(key)
    if value is None:
        return None
    text = str(value).strip().upper()
    return None if text in ("", "--", "NONE") else text


def uses_hubbard_u(incar: Mapping[str, Any]) -> bool:
    """Whether LDAU is on with at least one non-zero U (or J)."""
    if not incar.get("LDAU"):
        return False
    values = [*(incar.get("LDAUU") or []), *(incar.get("LDAUJ") or [])]
    return any(abs(float(v)) > 0 for v in values)


def functional_from_incar(incar: Mapping[str, Any]) -> tuple[Functional, str | None]:
    """Name the functional of an INCAR (the one written, or the one echoed in vasprun.xml).

    vasprun.xml's ``<parameters>`` block never carries METAGGA, so pass ``Vasprun.incar``.

    Returns
    -------
    tuple of (Functional, str or None)
        The name, and a one-line warning when the INCAR is ambiguous (GGA and METAGGA
        both set: VASP's result is then not a clean meta-GGA), else None.

    Raises
    ------
    UnsupportedRunError
        For functionals pesbench has no name for (rSCAN, PW91, meta-GGA+U, hybrids).
    """
    metagga, gga = _tag(incar, "METAGGA"), _tag(incar, "GGA")
    hubbard = uses_hubbard_u(incar)
    if incar.get("LHFCALC"):
        raise UnsupportedRunError("hybrid functional (LHFCALC) runs are not supported")
    if metagga is not None:
        if metagga not in _METAGGA_NAMES:
            raise UnsupportedRunError(f"METAGGA={metagga} is not one of R2SCAN, SCAN")
        if hubbard:
            raise UnsupportedRunError(f"METAGGA={metagga} with +U is not supported")
        warning = None
        if gga is not None:
            warning = f"GGA={gga} set together with METAGGA={metagga}: not a clean meta-GGA run"
        return _METAGGA_NAMES[metagga], warning  # type: ignore[return-value]
    base = _GGA_NAMES.get(gga or "PE")
    if base is None:
        raise UnsupportedRunError(f"GGA={gga} is not one of PE (PBE), PS (PBEsol)")
    return (f"{base}+U" if hubbard else base), None  # type: ignore[return-value]


def _scalar(value: Any) -> Any:
    """The value of a tag that old vasprun.xml files echo as a one-element list."""
    if isinstance(value, (list, tuple)) and len(value) == 1:
        return value[0]
    return value


def _round(value: Any) -> float | None:
    return None if value is None else round(float(_scalar(value)), 8)


def _int(value: Any) -> int:
    return int(_scalar(value))


def _kpoints_settings(incar: Mapping[str, Any], kpoints: Kpoints | None) -> dict[str, Any]:
    if incar.get("KSPACING") is not None and kpoints is None:
        return {"kspacing": _round(incar["KSPACING"]), "kgamma": bool(incar.get("KGAMMA", True))}
    if kpoints is None:
        return {"kspacing": 0.5, "kgamma": True}  # VASP's default
    style = kpoints.style.name if hasattr(kpoints.style, "name") else str(kpoints.style)
    return {
        "style": style,
        "kpts": [list(map(int, k)) if len(k) == 3 else list(k) for k in kpoints.kpts],
        "shift": [float(x) for x in (kpoints.kpts_shift or (0, 0, 0))],
    }


def _hubbard(incar: Mapping[str, Any], elements: Sequence[str]) -> dict[str, Any] | None:
    if not uses_hubbard_u(incar):
        return None
    u = [float(x) for x in incar.get("LDAUU") or []]
    j = [float(x) for x in incar.get("LDAUJ") or [0.0] * len(u)]
    return {
        "type": _int(incar.get("LDAUTYPE", 2)),
        "U": {el: round(uu - jj, 6) for el, uu, jj in zip(elements, u, j, strict=False)},
    }


def physics_settings(
    incar: Mapping[str, Any],
    kpoints: Kpoints | None,
    potcar_symbols: Sequence[str],
    elements: Sequence[str],
) -> dict[str, Any]:
    """The settings of a VASP run that change its energies and forces (hashed).

    Parameters
    ----------
    incar
        The INCAR (as written, or ``Vasprun.incar``).
    kpoints
        The KPOINTS, or None when the INCAR's KSPACING sets the mesh.
    potcar_symbols
        POTCAR symbols ("Si", "Mn_pv"), or vasprun's titles ("PAW_PBE Mn_pv 02Aug2007").
    elements
        Element of each POSCAR species block, in order (pairs LDAUU values with elements).

    Returns
    -------
    dict
        ``functional``, ``encut`` (eV), ``prec``, ``ediff`` (eV), k-point mesh or spacing
        (1/Å), ``ispin``, ``ismear``, ``sigma`` (eV), ``lasph``, ``hubbard`` (U in eV per
        element) and ``potcars``. Paths, cores and parallelisation never appear.
    """
    functional, _ = functional_from_incar(incar)
    symbols = [s.split()[1] if len(s.split()) >= 2 else s for s in potcar_symbols]
    return {
        "code": "vasp",
        "functional": functional,
        "encut": _round(incar.get("ENCUT")),
        "prec": str(incar.get("PREC", "Normal")).strip().capitalize()[:4],
        "ediff": _round(incar.get("EDIFF", 1e-4)),
        "kpoints": _kpoints_settings(incar, kpoints),
        "ispin": _int(incar.get("ISPIN", 1)),
        "ismear": _int(incar.get("ISMEAR", 1)),
        "sigma": _round(incar.get("SIGMA", 0.2)),
        "lasph": bool(incar.get("LASPH", False)),
        "hubbard": _hubbard(incar, elements),
        "potcars": symbols,
    }
