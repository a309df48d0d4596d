"""Solid solutions: substitutional orderings on a sublattice, symmetry duplicates removed.

In a fixed supercell of the conventional standard cell (``supercell``), ``n`` sites of the
sublattice element are replaced by the substituent for each requested fraction. The site
combinations are all enumerated when there are at most ``max_enumerated`` of them, or else
that many are drawn at random (``seed``). Two orderings related by a space-group operation of
the unsubstituted supercell (its lattice translations included) are one: each combination is
reduced to a canonical form, the smallest image of its site set under those operations. The
distinct orderings are then screened once more with pymatgen's ``StructureMatcher``, which
also catches orderings equivalent only through an operation that does not map this
supercell onto itself, and at most ``max_per_composition`` are kept (a random choice when
there are more). Without enumlib this stays within the one supercell shape.

The two end members come first, in the same supercell (role ``end_member``): the
unsubstituted supercell (fraction 0) and the one with every sublattice site substituted
(fraction 1). Mixing energies are referenced to them, so a campaign computes them with the
orderings, at the same k-point density and cell shape.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, cast

import numpy as np
import spglib
from pydantic import Field
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Element, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from pesbench.schemas.structure import Matrix3, SolidSolutionDetails
from pesbench.structures.common import (
    GeneratedStructure,
    Generation,
    GenerationParameterError,
    GeneratorParams,
    clean_structure,
    matrix3,
)

__all__ = ["SolidSolutionParams", "generate_solid_solutions", "site_permutations"]


class SolidSolutionParams(GeneratorParams):
    """Parameters of :func:`generate_solid_solutions` (default: Ca on the Mg of MgO)."""

    sublattice: str | None = Field(
        default=None,
        description="Element whose sites are substituted (None: the first cation-like "
        "element, i.e. the least electronegative).",
    )
    substituent: str = Field(default="Ca", description="Element put on the substituted sites.")
    fractions: list[float] = Field(
        default=[0.25, 0.5, 0.75],
        description="Substituted fractions of the sublattice (0 < x < 1).",
    )
    supercell: list[int] = Field(
        default=[2, 1, 1],
        min_length=3,
        max_length=3,
        description="Repeats of the conventional cell.",
    )
    max_per_composition: int = Field(default=10, ge=1, description="Orderings kept per fraction.")
    max_enumerated: int = Field(
        default=20000, ge=1, description="Site combinations tried per fraction before sampling."
    )
    symprec: float = Field(default=0.01, gt=0, description="spglib symmetry tolerance (Å).")
    seed: int = Field(default=0, description="Random seed of the sampling.")


def site_permutations(structure: Structure, sites: list[int], symprec: float) -> np.ndarray:
    """How each space-group operation of ``structure`` permutes the ``sites`` among themselves.

    Returns
    -------
    numpy.ndarray
        ``perm[k, i]`` is the position in ``sites`` of the image of ``sites[i]`` under
        operation ``k`` (the identity included).
    """
    cell = (
        structure.lattice.matrix,
        structure.frac_coords,
        [site.specie.Z for site in structure],
    )
    symmetry = spglib.get_symmetry(cast(Any, cell), symprec=symprec)
    if symmetry is None:
        raise GenerationParameterError("spglib found no symmetry for the supercell")
    frac = structure.frac_coords[sites]
    perms = []
    for rot, trans in zip(symmetry["rotations"], symmetry["translations"], strict=True):
        images = frac @ rot.T + trans
        delta = images[:, None, :] - frac[None, :, :]
        delta -= np.round(delta)
        dist = np.linalg.norm(delta @ structure.lattice.matrix, axis=2)
        perm = np.argmin(dist, axis=1)
        if np.max(dist[np.arange(len(sites)), perm]) > 10 * symprec + 1e-3:
            raise GenerationParameterError("a symmetry operation does not map the sublattice")
        perms.append(perm)
    return np.unique(np.array(perms), axis=0)


def _canonical(combo: tuple[int, ...], perms: np.ndarray) -> tuple[int, ...]:
    images = np.sort(perms[:, list(combo)], axis=1)
    best = min(map(tuple, images.tolist()))
    return tuple(int(x) for x in best)


def _combinations(
    n: int, k: int, limit: int, rng: np.random.Generator
) -> tuple[list[tuple[int, ...]], bool]:
    """All k-subsets of range(n) when there are at most ``limit``; else ``limit`` random ones."""
    if math.comb(n, k) <= limit:
        return [tuple(c) for c in itertools.combinations(range(n), k)], True
    picks = {tuple(sorted(rng.choice(n, size=k, replace=False).tolist())) for _ in range(limit)}
    return sorted(picks), False


def _default_sublattice(structure: Structure) -> str:
    elements = sorted(structure.composition.elements, key=lambda el: (el.X, el.Z))
    return str(elements[0])


def _end_members(
    parent: Structure, sites: list[int], sublattice: str, params: SolidSolutionParams, m3: Matrix3
) -> list[GeneratedStructure]:
    """The unsubstituted (x = 0) and fully substituted (x = 1) supercell, role ``end_member``."""
    n = len(sites)
    substituted = parent.copy()
    for index in sites:
        substituted.replace(index, params.substituent)
    out = []
    for k, structure in ((0, parent.copy()), (n, substituted)):
        details = SolidSolutionDetails(
            sublattice_species=sublattice,
            substituent=params.substituent,
            n_sublattice_sites=n,
            n_substituted=k,
            fraction=k / n,
            ordering_index=0,
            substituted_site_indices=list(sites[:k]),
            n_distinct_found=1,
            enumeration="exhaustive",
            supercell_matrix=m3,
        )
        out.append(GeneratedStructure(structure, "end_member", details))
    return out


def _orderings(
    parent: Structure,
    sites: list[int],
    k: int,
    params: SolidSolutionParams,
    perms: np.ndarray,
    rng: np.random.Generator,
) -> tuple[list[tuple[tuple[int, ...], Structure]], int, bool]:
    """Distinct orderings of ``k`` substituted sites, in canonical order.

    Returns
    -------
    kept, n_distinct, exhaustive
        ``(combination, structure)`` of each ordering kept (at most
        ``max_per_composition``), the number distinct under the supercell's operations,
        and whether every combination was tried.
    """
    combos, exhaustive = _combinations(len(sites), k, params.max_enumerated, rng)
    distinct = sorted({_canonical(c, perms) for c in combos})
    order = (
        rng.permutation(len(distinct))
        if len(distinct) > params.max_per_composition
        else (np.arange(len(distinct)))
    )
    matcher = StructureMatcher()
    kept: list[tuple[tuple[int, ...], Structure]] = []
    for index in order:
        combo = distinct[int(index)]
        structure = parent.copy()
        for position in combo:
            structure.replace(sites[position], params.substituent)
        if any(matcher.fit(structure, other) for _, other in kept):
            continue
        kept.append((combo, structure))
        if len(kept) == params.max_per_composition:
            break
    kept.sort(key=lambda item: item[0])
    return kept, len(distinct), exhaustive


def _supercell_and_sites(
    bulk: Structure, params: SolidSolutionParams
) -> tuple[Structure, list[int], str, list[list[int]]]:
    """The unsubstituted supercell, its sublattice sites, the sublattice element, the matrix."""
    sublattice = params.sublattice or _default_sublattice(bulk)
    for el in (sublattice, params.substituent):
        if not Element.is_valid_symbol(el):
            raise GenerationParameterError(f"solid_solution: unknown element {el!r}")
    if sublattice == params.substituent:
        raise GenerationParameterError("solid_solution: substituent equals the sublattice element")
    conv = SpacegroupAnalyzer(bulk, symprec=params.symprec).get_conventional_standard_structure()
    matrix = [[params.supercell[i] if i == j else 0 for j in range(3)] for i in range(3)]
    parent = clean_structure(conv.make_supercell(matrix, in_place=False))
    sites = [i for i, site in enumerate(parent) if str(site.specie) == sublattice]
    if not sites:
        raise GenerationParameterError(
            f"solid_solution: {parent.composition.reduced_formula} has no {sublattice} sublattice"
        )
    return parent, sites, sublattice, matrix


def generate_solid_solutions(
    bulk: Structure, params: SolidSolutionParams | None = None
) -> Generation:
    """Symmetry-distinct substitutional orderings of ``bulk`` at each requested fraction.

    Parameters
    ----------
    bulk
        Ordered bulk crystal holding the sublattice element.
    params
        See :class:`SolidSolutionParams`.

    Returns
    -------
    Generation
        The two end members first (role ``end_member``: the supercell unsubstituted,
        fraction 0, and fully substituted, fraction 1), then the orderings (role
        ``ordering``) per fraction, in canonical order.
    """
    params = params or SolidSolutionParams()
    parent, sites, sublattice, matrix = _supercell_and_sites(clean_structure(bulk), params)
    perms = site_permutations(parent, sites, params.symprec)
    rng = np.random.default_rng(params.seed)
    result = Generation()
    result.structures.extend(_end_members(parent, sites, sublattice, params, matrix3(matrix)))
    n = len(sites)
    for fraction in params.fractions:
        k = round(fraction * n)
        if not 0 < k < n or abs(k - fraction * n) > 1e-6:
            raise GenerationParameterError(
                f"solid_solution: fraction {fraction} is not a multiple of 1/{n} strictly between "
                f"0 and 1 ({n} {sublattice} sites in the supercell {params.supercell})"
            )
        kept, n_distinct, exhaustive = _orderings(parent, sites, k, params, perms, rng)
        for ordering_index, (combo, structure) in enumerate(kept):
            details = SolidSolutionDetails(
                sublattice_species=sublattice,
                substituent=params.substituent,
                n_sublattice_sites=n,
                n_substituted=k,
                fraction=k / n,
                ordering_index=ordering_index,
                substituted_site_indices=[sites[p] for p in combo],
                n_distinct_found=n_distinct,
                enumeration="exhaustive" if exhaustive else "sampled",
                supercell_matrix=matrix3(matrix),
            )
            result.structures.append(GeneratedStructure(structure, "ordering", details))
    return result
