"""GPAW inputs from a structure and a level of theory: pure, testable without GPAW.

Precedence: the preset (the module constants below) < user ``overrides``. A previous
calculation (``prev_dir``) changes no input here: the engine starts from its state only
when that run's inputs are these but the functional and SCF criteria (see
:mod:`pesbench.engines.gpaw.engine`).

The physics, per run:

- plane waves, cutoff :data:`DEFAULT_ECUT_EV` (800 eV: O and F need it; at 500 eV the MgO
  stress is off by 18 GPa);
- a Γ-centred Monkhorst-Pack mesh with ``n_i = max(1, ceil(|b_i| / kspacing))``, ``|b_i|``
  the reciprocal lattice vector lengths with the 2π (VASP's KSPACING convention), default
  :data:`DEFAULT_KSPACING` Å⁻¹; a vacuum direction of a slab gets 1;
- Fermi-Dirac smearing of :data:`DEFAULT_SMEARING_EV`;
- spin-polarised, with initial moments from the Materials Project's MAGMOM table
  (pymatgen's ``MPRelaxSet`` config), when the cell holds an element of that table; a
  ``magmom`` site property overrides them;
- with the engine-agnostic override ``spin_polarized: True`` (a cell that may be
  open-shell: a defect supercell, the O2 molecule), spin-polarised whatever the elements,
  from ferromagnetic initial moments: MP's table, and :data:`OPEN_SHELL_MAGMOM` for the
  elements it does not list (pymatgen's VASP input sets do the same), so that a
  closed-shell start cannot pin the solution to zero moment; ``spin_polarized: False``
  is a closed-shell run;
- PBE+U: Dudarev-style U on the d shell of the transition metals of MP's oxide/fluoride set,
  values read from pymatgen's ``MPRelaxSet`` config (applied when the most electronegative
  element is O or F, as MP does), as GPAW setups ``{'Mn': ':d,3.9'}``;
- r2SCAN: ``xc='MGGA_X_R2SCAN+MGGA_C_R2SCAN'`` from libxc.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

from pymatgen.core import Element, Structure
from pymatgen.electronic_structure.core import Magmom

from pesbench.schemas.base import Functional

__all__ = [
    "DEFAULT_CONVERGENCE",
    "DEFAULT_ECUT_EV",
    "DEFAULT_KSPACING",
    "DEFAULT_MAXITER",
    "DEFAULT_SMEARING_EV",
    "OPEN_SHELL_MAGMOM",
    "OVERRIDE_KEYS",
    "XC",
    "GpawInputs",
    "gpaw_inputs",
    "hubbard_u",
    "initial_magmoms",
    "kpoint_mesh",
    "mp_magmoms",
    "mp_u_values",
]

DEFAULT_ECUT_EV = 800.0
"""Plane-wave cutoff, eV: converged for O and F (the hardest of the benchmark's elements)."""
DEFAULT_KSPACING = 0.25
"""Largest k-point spacing, Å⁻¹ (2π included, as VASP's KSPACING): about MP's static density."""
DEFAULT_SMEARING_EV = 0.05
"""Fermi-Dirac smearing width, eV."""
DEFAULT_CONVERGENCE: dict[str, float] = {"energy": 1e-6, "density": 1e-5, "forces": 1e-3}
"""GPAW SCF criteria: energy change, eV per valence electron; density change, electrons per
valence electron; largest force change, eV/Å."""
DEFAULT_MAXITER = 200
"""Most SCF iterations before the run counts as not converged."""
OPEN_SHELL_MAGMOM = 0.6
"""Initial moment (μB) of an element MP's MAGMOM table does not list, in an open-shell
run (``spin_polarized``): pymatgen's default for such elements."""

XC: dict[str, str] = {
    "PBE": "PBE",
    "PBE+U": "PBE",
    "r2SCAN": "MGGA_X_R2SCAN+MGGA_C_R2SCAN",
}
"""GPAW ``xc`` per level of theory (r2SCAN by its libxc names)."""

OVERRIDE_KEYS: dict[str, str] = {
    "ecut": "plane-wave cutoff, eV",
    "kspacing": "k-point spacing, Å⁻¹ (2π included)",
    "kpts": "explicit Γ-centred mesh [n1, n2, n3] (wins over kspacing)",
    "smearing": "Fermi-Dirac width, eV",
    "spinpol": "spin polarisation on/off (default: on when a magnetic element is present)",
    "magmoms": "initial moments per site, μB (default: MP's MAGMOM table)",
    "spin_polarized": "engine-agnostic: True for a cell that may be open-shell (spin on, "
    "ferromagnetic start, OPEN_SHELL_MAGMOM where MP lists no moment); False: closed shell",
    "hubbard_u": "U per element, eV, on the d shell (PBE+U; default: MP's values)",
    "convergence": "GPAW SCF criteria, merged into the defaults",
    "maxiter": "most SCF iterations",
}
"""The keys ``overrides`` may hold, and what they mean."""

GpawInputs = dict[str, Any]
"""``{"parameters": GPAW keyword arguments (JSON-able), "magmoms": list | None,
"input_settings": the physics, hashed}``."""


@cache
def _mp_incar() -> dict[str, Any]:
    from pymatgen.io.vasp.sets import MPRelaxSet

    return dict(MPRelaxSet.CONFIG["INCAR"])


def mp_u_values(anion: str) -> dict[str, float]:
    """The Materials Project's U values (eV) for ``anion`` ('O' or 'F'), from pymatgen."""
    return {el: float(u) for el, u in _mp_incar()["LDAUU"].get(anion, {}).items()}


def mp_magmoms() -> dict[str, float]:
    """Initial moment (μB) per magnetic element, from MP's MAGMOM table (pymatgen).

    An element listed only as ions (``'Gd3+'``) gets its largest ionic value.
    """
    moments: dict[str, float] = {}
    for key, value in _mp_incar()["MAGMOM"].items():
        symbol = key.rstrip("+-0123456789")
        if key == symbol:
            moments[symbol] = float(value)
        elif symbol not in _mp_incar()["MAGMOM"]:
            moments[symbol] = max(moments.get(symbol, 0.0), float(value))
    return moments


def hubbard_u(structure: Structure, functional: Functional) -> dict[str, float]:
    """U (eV) per element of ``structure`` at ``functional`` (empty unless PBE+U applies).

    As the Materials Project: +U applies when the most electronegative element is O or F,
    on the transition metals of that anion's table.
    """
    if functional != "PBE+U":
        return {}
    elements = sorted(structure.composition.elements, key=lambda el: el.X)
    anion = elements[-1].symbol
    table = mp_u_values(anion) if anion in ("O", "F") else {}
    return {el.symbol: table[el.symbol] for el in elements if el.symbol in table}


def initial_magmoms(structure: Structure, *, open_shell: bool = False) -> list[float] | None:
    """Initial moments per site (μB), or None when the cell holds no magnetic element.

    A ``magmom`` site property wins (signed: antiferromagnetic orderings survive); else MP's
    MAGMOM table, 0 for other elements, or :data:`OPEN_SHELL_MAGMOM` with ``open_shell``
    (then never None).
    """
    if "magmom" in structure.site_properties:  # collinear: the signed moment along the axis
        return [float(Magmom(m)) for m in structure.site_properties["magmom"]]
    table = mp_magmoms()
    symbols = [site.specie.symbol for site in structure]
    if not open_shell and not any(symbol in table for symbol in symbols):
        return None
    other = OPEN_SHELL_MAGMOM if open_shell else 0.0
    return [table.get(symbol, other) for symbol in symbols]


def kpoint_mesh(structure: Structure, kspacing: float) -> list[int]:
    """Γ-centred mesh with spacing at most ``kspacing`` Å⁻¹ (2π included) along each axis."""
    if kspacing <= 0:
        raise ValueError(f"kspacing must be positive (got {kspacing})")
    lengths = structure.lattice.reciprocal_lattice.abc  # with the 2π
    return [max(1, math.ceil(length / kspacing - 1e-9)) for length in lengths]


def gpaw_inputs(
    structure: Structure, functional: Functional, overrides: dict[str, Any] | None = None
) -> GpawInputs:
    """GPAW parameters and the physics they encode, for one single point.

    Parameters
    ----------
    structure
        The cell (periodic in all directions; a slab carries its vacuum).
    functional
        'PBE', 'PBE+U' or 'r2SCAN'.
    overrides
        Keys of :data:`OVERRIDE_KEYS`; anything else raises.

    Returns
    -------
    GpawInputs
        ``parameters`` (GPAW keyword arguments, JSON-able; no ``txt``), ``magmoms`` (per site
        or None) and ``input_settings`` (what ``hash_inputs`` hashes).

    Raises
    ------
    ValueError
        For an unknown level of theory or override key.

    Long because GPAW's parameters and the hashed ``input_settings`` they encode are laid out
    side by side, so that each parameter can be checked against its record.
    """
    if functional not in XC:
        raise ValueError(f"GPAW cannot run {functional!r}; it runs {', '.join(XC)}")
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(OVERRIDE_KEYS))
    if unknown:
        raise ValueError(f"unknown GPAW override(s) {unknown}; known: {', '.join(OVERRIDE_KEYS)}")

    ecut = float(overrides.get("ecut", DEFAULT_ECUT_EV))
    kspacing = float(overrides.get("kspacing", DEFAULT_KSPACING))
    kpts = [int(n) for n in overrides.get("kpts") or kpoint_mesh(structure, kspacing)]
    width = float(overrides.get("smearing", DEFAULT_SMEARING_EV))
    convergence = {**DEFAULT_CONVERGENCE, **overrides.get("convergence", {})}
    maxiter = int(overrides.get("maxiter", DEFAULT_MAXITER))

    spinpol, magmoms = _spin(structure, overrides)

    u_values = (
        {str(el): float(u) for el, u in overrides["hubbard_u"].items()}
        if "hubbard_u" in overrides and functional == "PBE+U"
        else hubbard_u(structure, functional)
    )
    for symbol in u_values:
        Element(symbol)  # raises for a typo
    setups = {el: f":d,{u:g}" for el, u in sorted(u_values.items())}

    parameters: dict[str, Any] = {
        "mode": {"name": "pw", "ecut": ecut},
        "xc": XC[functional],
        "kpts": {"size": kpts, "gamma": True},
        "occupations": {"name": "fermi-dirac", "width": width},
        "spinpol": spinpol,
        "convergence": convergence,
        "maxiter": maxiter,
    }
    if setups:
        parameters["setups"] = setups
    input_settings = {
        "code": "gpaw",
        "xc": XC[functional],
        "mode": "pw",
        "ecut_eV": ecut,
        "kspacing_invA": None if overrides.get("kpts") else kspacing,
        "kpts": kpts,
        "kpts_gamma_centred": True,
        "smearing": {"name": "fermi-dirac", "width_eV": width},
        "spinpol": spinpol,
        "magmoms": magmoms,
        "hubbard_u_eV": {el: {"l": "d", "U": u} for el, u in sorted(u_values.items())},
        "setups": {el: "paw" + setups.get(el, "") for el in sorted(_symbols(structure))},
        "convergence": convergence,
    }
    return {"parameters": parameters, "magmoms": magmoms, "input_settings": input_settings}


def _spin(structure: Structure, overrides: dict[str, Any]) -> tuple[bool, list[float] | None]:
    """``spinpol`` and the initial moments per site (None when not spin-polarised).

    ``spin_polarized`` (engine-agnostic) absent: spin follows the elements.
    """
    open_shell = bool(overrides["spin_polarized"]) if "spin_polarized" in overrides else None
    if open_shell is not None and bool(overrides.get("spinpol", open_shell)) != open_shell:
        raise ValueError("overrides spin_polarized and spinpol disagree")
    magmoms = overrides.get("magmoms", initial_magmoms(structure, open_shell=bool(open_shell)))
    spinpol = bool(
        overrides.get("spinpol", magmoms is not None if open_shell is None else open_shell)
    )
    if not spinpol:
        magmoms = None
    elif magmoms is None:
        magmoms = [0.0] * len(structure)
    if magmoms is not None and len(magmoms) != len(structure):
        raise ValueError(f"{len(magmoms)} magmoms for {len(structure)} sites")
    return spinpol, magmoms


def _symbols(structure: Structure) -> set[str]:
    return {el.symbol for el in structure.composition.elements}
