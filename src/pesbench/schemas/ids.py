"""Stable content identifiers of structures."""

from __future__ import annotations

import hashlib

import numpy as np
from pymatgen.core import Structure

__all__ = [
    "LATTICE_DECIMALS",
    "POSITION_DECIMALS",
    "content_ids",
    "site_keys",
    "site_order",
    "site_permutation",
    "structure_id",
]

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
    return _structure_id(structure, site_keys(structure))


def content_ids(structure: Structure) -> tuple[str, str]:
    """:func:`structure_id` and :func:`site_order` of ``structure``, its sites read once."""
    keys = site_keys(structure)
    return _structure_id(structure, keys), _site_order(keys)


def _structure_id(structure: Structure, keys: list[tuple[str, ...]]) -> str:
    lattice = np.round(structure.lattice.matrix, LATTICE_DECIMALS) + 0.0  # no -0.0
    payload = ";".join(f"{x:.{LATTICE_DECIMALS}f}" for x in lattice.ravel())
    payload += "|" + ";".join(",".join(site) for site in sorted(keys))
    digest = hashlib.sha256(payload.encode()).hexdigest()[:16]
    return f"{structure.composition.reduced_formula}-{digest}"


def site_keys(structure: Structure) -> list[tuple[str, ...]]:
    """One key per site, in the structure's order: species and rounded wrapped coordinates.

    The keys :func:`structure_id` sorts and hashes; two structures of one id have the same
    keys in some order (:func:`site_permutation`).
    """
    if not structure.is_ordered:
        raise ValueError("structure_id needs an ordered structure (no partial occupancies)")
    frac = np.mod(structure.frac_coords, 1.0)
    frac = np.round(frac, POSITION_DECIMALS)
    frac[frac >= 1.0] = 0.0
    frac += 0.0
    # one %-format of every coordinate (what f"{x:.4f}" gives each, several times faster)
    text = (f"%.{POSITION_DECIMALS}f," * frac.size) % tuple(frac.ravel().tolist())
    coords = text.split(",")
    return [(str(site.specie), *coords[3 * k : 3 * k + 3]) for k, site in enumerate(structure)]


def site_order(structure: Structure) -> str:
    """A hash of the structure's site order (16 hex digits).

    The structure id ignores site order, so two documents of one ``structure_id`` may list
    their sites (and their forces) in different orders, e.g. a reference imported from a
    dataset and a prediction made on the generated structure. Equal ``site_order``: their
    per-atom arrays line up; otherwise :func:`site_permutation` lines them up.
    """
    return _site_order(site_keys(structure))


def _site_order(keys: list[tuple[str, ...]]) -> str:
    payload = ";".join(",".join(key) for key in keys)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def site_permutation(source: Structure, target: Structure) -> np.ndarray:
    """Indices ``p`` with ``target[i]`` the site ``source[p[i]]``: ``forces[p]`` reorders.

    Both must be one structure (one :func:`structure_id`) in two site orders; sites are
    matched by :func:`site_keys`.

    Raises
    ------
    ValueError
        When the two do not hold the same sites (not one structure, or two sites on one
        key, which no physical structure has).
    """
    source_keys, target_keys = site_keys(source), site_keys(target)
    where = {key: k for k, key in enumerate(source_keys)}
    if len(where) != len(source_keys) or sorted(source_keys) != sorted(target_keys):
        raise ValueError("the two structures do not hold the same sites")
    return np.array([where[key] for key in target_keys], dtype=int)
