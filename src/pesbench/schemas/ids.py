"""Stable content identifiers of structures."""

from __future__ import annotations

import hashlib

import numpy as np
from pymatgen.core import Structure

__all__ = ["LATTICE_DECIMALS", "POSITION_DECIMALS", "structure_id"]

LATTICE_DECIMALS = 4
"""Lattice vectors are compared to 1e-4 Å."""
POSITION_DECIMALS = 4
"""Fractional coordinates are compared to 1e-4 (wrapped into [0, 1))."""


def structure_id(structure: Structure) -> str:
    """Return the content hash of ``structure``: ``"<reduced formula>-<16 hex digits>"``.

    The hash covers the lattice matrix, the species and the fractional coordinates
    (wrapped into [0, 1), rounded as the module constants say) and ignores site order and
    site properties, so the same structure generated twice, or with its sites permuted,
    gets the same id; a structure differing by more than the rounding gets another.

    Parameters
    ----------
    structure
        An ordered periodic structure.

    Returns
    -------
    str
        For example ``"MgO-1c9a0f3e5b7d2a64"``.
    """
    if not structure.is_ordered:
        raise ValueError("structure_id needs an ordered structure (no partial occupancies)")
    lattice = np.round(structure.lattice.matrix, LATTICE_DECIMALS) + 0.0  # no -0.0
    frac = np.mod(structure.frac_coords, 1.0)
    frac = np.round(frac, POSITION_DECIMALS)
    frac[frac >= 1.0] = 0.0
    frac += 0.0
    sites = sorted(
        (str(site.specie), *(f"{x:.{POSITION_DECIMALS}f}" for x in coords))
        for site, coords in zip(structure, frac, strict=True)
    )
    payload = ";".join(f"{x:.{LATTICE_DECIMALS}f}" for x in lattice.ravel())
    payload += "|" + ";".join(",".join(site) for site in sites)
    digest = hashlib.sha256(payload.encode()).hexdigest()[:16]
    return f"{structure.composition.reduced_formula}-{digest}"
