"""Input-set presets: atomate2's MatPES and Materials Project static makers' generators.

One table, read by the engine. Precedence of the INCAR (documented once, here):
preset < previous calculation (its WAVECAR/CHGCAR are copied, never its INCAR) < the
user's ``overrides["incar"]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from atomate2.vasp.flows.matpes import MatPesStaticFlowMaker
from atomate2.vasp.jobs.mp import MPGGAStaticMaker, MPMetaGGAStaticMaker
from pymatgen.io.vasp.sets import MatPESStaticSet, VaspInputSet

__all__ = ["DEFAULT_PRESET", "PRESETS", "Preset", "input_set_generator"]

Preset = Literal["matpes", "mp"]

DEFAULT_PRESET: Preset = "matpes"
"""MatPES statics: the GGA writes its WAVECAR, from which the r2SCAN run starts."""


def _matpes_gga() -> VaspInputSet:
    maker = MatPesStaticFlowMaker().static1
    return maker.input_set_generator  # type: ignore[union-attr]


def _matpes_r2scan() -> VaspInputSet:
    maker = MatPesStaticFlowMaker().static2
    return maker.input_set_generator  # type: ignore[union-attr]


def _matpes_gga_u() -> VaspInputSet:
    return MatPESStaticSet(xc_functional="PBE+U", user_incar_settings={"LWAVE": True})


def _mp_gga(u: bool) -> Callable[[], VaspInputSet]:
    def build() -> VaspInputSet:
        gen = MPGGAStaticMaker().input_set_generator
        extra: dict[str, Any] = {"LWAVE": True}  # the r2SCAN run may start from it
        if not u:
            extra["LDAU"] = False
        gen.user_incar_settings = {**(gen.user_incar_settings or {}), **extra}
        return gen

    return build


def _mp_r2scan() -> VaspInputSet:
    return MPMetaGGAStaticMaker().input_set_generator


PRESETS: dict[str, dict[str, Callable[[], VaspInputSet]]] = {
    "matpes": {"PBE": _matpes_gga, "PBE+U": _matpes_gga_u, "r2SCAN": _matpes_r2scan},
    "mp": {"PBE": _mp_gga(u=False), "PBE+U": _mp_gga(u=True), "r2SCAN": _mp_r2scan},
}
"""preset -> functional -> a fresh input-set generator (atomate2's makers' defaults)."""


def input_set_generator(
    functional: str, preset: str = DEFAULT_PRESET, overrides: dict[str, Any] | None = None
) -> VaspInputSet:
    """The generator of ``preset`` for ``functional``, with the user's overrides applied.

    Parameters
    ----------
    functional
        PBE, PBE+U or r2SCAN (the functionals pesbench computes).
    preset
        "matpes" (default) or "mp".
    overrides
        ``{"incar": {...}, "kpoints": {...}}``: pymatgen's ``user_incar_settings`` and
        ``user_kpoints_settings``, applied over the preset; ``"spin_polarized"`` (the
        engine-agnostic key of open-shell cells): True sets ISPIN = 2 (every preset
        already is, starting from pymatgen's MAGMOM: MP's table, 0.6 μB for other
        elements), False ISPIN = 1; an ``incar`` ISPIN wins over it.

    Raises
    ------
    ValueError
        For an unknown preset or functional, or an unknown key of ``overrides``.
    """
    overrides = dict(overrides or {})
    overrides.pop("preset", None)
    unknown = set(overrides) - {"incar", "kpoints", "spin_polarized"}
    if unknown:
        raise ValueError(
            f"unknown VASP override(s) {sorted(unknown)}; known: incar, kpoints, spin_polarized"
        )
    if preset not in PRESETS:
        raise ValueError(f"unknown VASP preset {preset!r}; known: {', '.join(PRESETS)}")
    if functional not in PRESETS[preset]:
        known = ", ".join(PRESETS[preset])
        raise ValueError(f"the VASP engine computes {known}, not {functional!r}")
    gen = PRESETS[preset][functional]()
    incar = dict(overrides.get("incar") or {})
    if "spin_polarized" in overrides:
        incar = {"ISPIN": 2 if overrides["spin_polarized"] else 1, **incar}
    if incar:
        gen.user_incar_settings = {**(gen.user_incar_settings or {}), **incar}
    if overrides.get("kpoints"):
        gen.user_kpoints_settings = {
            **(gen.user_kpoints_settings or {}),
            **overrides["kpoints"],
        }
    return gen
