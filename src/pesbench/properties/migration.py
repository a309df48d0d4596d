"""Migration barriers the ApproxNEB way (Rong et al., Phys. Rev. B 94, 134113, 2016).

Per symmetry-distinct hop (generated again from the side's relaxed bulk, lattice fixed):

1. the two endpoints (ion on the start site with the end site vacant, and the reverse) are
   relaxed in their positions at fixed cell;
2. ``n_images`` images are placed on the straight line between the two RELAXED endpoints
   (every site moves linearly, by the minimum-image difference of its two endpoint
   positions; the moving ion by the hop vector, which may be half a lattice vector in a
   small supercell, plus the difference of its two endpoint relaxations);
3. each image is relaxed with the moving ion fixed and the host free, except the host
   atom farthest from the hop (:func:`anchor_site`), also fixed: with the ion alone fixed
   the host slides rigidly along the hop and an image relaxes back into an endpoint (EMT
   Cu: the images at 1/4 and 3/4 of the hop came back at the endpoint energy). This is
   the default ``fix_two_atoms`` scheme of atomate2's ApproxNEB flows
   (``common/jobs/approx_neb.py``);
4. the barrier is the highest energy of the path (images and endpoints) minus the lower
   endpoint's.

For comparison each barrier also records the frozen
straight-line barrier: single points of the generated images on the unrelaxed host (what
pesbench reported before relaxations existed), and the energies of the interpolated images
before their host relaxed (the first frame of each image's relaxation).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from pymatgen.core import Structure

from pesbench.analysis.properties import migration_barrier
from pesbench.properties.base import PropertyContext, register
from pesbench.schemas.relaxation import RelaxationDoc
from pesbench.schemas.structure import MigrationDetails, StructureDoc

__all__ = ["anchor_site", "approx_neb_images", "migration_properties", "path_barrier"]


def _mic(delta: np.ndarray) -> np.ndarray:
    """Fractional differences brought to the nearest periodic image, in [-0.5, 0.5)."""
    return delta - np.floor(delta + 0.5)


def approx_neb_images(
    start: Structure,
    end: Structure,
    moving_site_index: int,
    hop_frac: Sequence[float],
    n_images: int,
) -> list[Structure]:
    """Images on the straight line between two relaxed endpoints of one hop.

    Parameters
    ----------
    start, end
        The relaxed endpoints, on one lattice, with the same sites in the same order (the
        moving ion at ``moving_site_index`` in both).
    moving_site_index
        Index of the moving ion.
    hop_frac
        Fractional (supercell) vector of the hop, from the ion's start site to its end
        site, unwrapped: the ion's path is this vector plus the difference of its
        displacements in the two endpoints, so a hop of half a lattice vector is not
        folded onto its periodic image.
    n_images
        Images between the endpoints.

    Returns
    -------
    list of Structure
        Images ``1 .. n_images``, on the lattice of ``start``.

    Raises
    ------
    ValueError
        When the endpoints do not have the same species in the same order.
    """
    if [s.species_string for s in start] != [s.species_string for s in end]:
        raise ValueError("the endpoints' sites do not correspond (species or order differ)")
    begin = start.frac_coords
    delta = _mic(end.frac_coords - begin)
    ion = moving_site_index
    hop = np.asarray(hop_frac, dtype=float)
    # the ion's relaxed offset from its end site, minus its offset from its start site
    delta[ion] = hop + _mic(end.frac_coords[ion] - begin[ion] - hop)
    images = []
    for k in range(1, n_images + 1):
        frac = begin + delta * (k / (n_images + 1))
        images.append(Structure(start.lattice, start.species, np.mod(frac, 1.0)))
    return images


def anchor_site(structure: Structure, moving_site_index: int, hop_frac: Sequence[float]) -> int:
    """The site farthest (periodic images included) from the middle of the hop.

    Parameters
    ----------
    structure
        An endpoint, the moving ion at ``moving_site_index`` on its start site.
    moving_site_index
        Index of the moving ion (never returned).
    hop_frac
        Fractional hop vector, as for :func:`approx_neb_images`.
    """
    middle = structure.frac_coords[moving_site_index] + 0.5 * np.asarray(hop_frac, dtype=float)
    distances = structure.lattice.get_all_distances(structure.frac_coords, [middle])[:, 0]
    distances[moving_site_index] = -1.0
    # equivalent sites tie: the first of them, whatever noise each side's relaxation left
    return int(np.flatnonzero(distances > distances.max() - 1e-2)[0])


def path_barrier(energies: Sequence[float]) -> float:
    """Highest energy of a path (endpoints included) minus the lower endpoint's, eV."""
    path = [float(e) for e in energies]
    return migration_barrier(path if path[0] <= path[-1] else path[::-1])


def _details(doc: StructureDoc) -> MigrationDetails:
    assert isinstance(doc.details, MigrationDetails)
    return doc.details


def _paths(docs: Sequence[StructureDoc]) -> dict[int, list[StructureDoc]]:
    """Hop index -> its structures, endpoint to endpoint."""
    paths: dict[int, list[StructureDoc]] = defaultdict(list)
    for doc in docs:
        if isinstance(doc.details, MigrationDetails):
            paths[doc.details.hop_index].append(doc)
    return {
        hop: sorted(path, key=lambda d: _details(d).image_index)
        for hop, path in sorted(paths.items())
    }


def _energy(doc: RelaxationDoc) -> float:
    assert doc.energy is not None
    return float(doc.energy)


def _frozen(
    ctx: PropertyContext, label: str, path: list[StructureDoc], ends: list[RelaxationDoc]
) -> tuple[list[float] | None, list[str]]:
    """Energies along the generated (unrelaxed) path, endpoints from their first frames."""
    terms = ctx.relax_many(
        [doc.structure for doc in path[1:-1]],
        [f"{label}: frozen image {_details(doc).image_index}" for doc in path[1:-1]],
        static=True,
    )
    if any(term is None for term in terms):
        return None, []
    energies = [_energy(t) for t in terms if t is not None]
    first, last = ends[0].frames.energies[0], ends[1].frames.energies[0]
    return [first, *energies, last], [t.relaxation_id for t in terms if t is not None]


def _hop(ctx: PropertyContext, hop_index: int, path: list[StructureDoc]) -> None:
    """Relax the endpoints, then the images with the ion fixed; add the hop's barrier."""
    label = f"hop {hop_index}"
    what = f"migration_barrier {label}"
    info = _details(path[0])
    last = len(path) - 1
    relaxed = ctx.relax_many(
        [path[0].structure, path[-1].structure], [f"{what}: endpoint 0", f"{what}: endpoint {last}"]
    )
    ends = [doc for doc in relaxed if doc is not None]
    if len(ends) < 2:
        return
    hop_frac = np.asarray(info.end_frac_coords) - np.asarray(info.start_frac_coords)
    start, end = ends[0].final_structure, ends[1].final_structure
    assert start is not None
    assert end is not None
    try:
        images = approx_neb_images(start, end, info.moving_site_index, hop_frac, info.n_images)
    except ValueError as exc:
        ctx.notes.append(f"{what}: {exc}")
        return
    fixed = (info.moving_site_index, anchor_site(start, info.moving_site_index, hop_frac))
    terms: dict[str, RelaxationDoc] = {"endpoint_0": ends[0]}
    docs = ctx.relax_many(  # all images together (one batched pass per step on a model)
        images, [f"{what}: image {k}" for k in range(1, len(images) + 1)], fixed=fixed
    )
    for k, doc in enumerate(docs, start=1):
        if doc is None:
            return
        terms[f"image_{k}"] = doc
    terms[f"endpoint_{last}"] = ends[1]
    energies = [_energy(doc) for doc in terms.values()]
    frozen, frozen_ids = _frozen(ctx, what, path, ends)
    ctx.add(
        "migration_barrier",
        label,
        path_barrier(energies),
        "eV",
        terms,
        ion=info.ion,
        hop_distance_A=info.hop_distance_A,
        n_images=info.n_images,
        moving_site_index=info.moving_site_index,
        fixed_sites=list(fixed),
        supercell_atoms=len(path[0].structure),
        image_energies_eV=energies,
        saddle_image_index=int(np.argmax(energies)),
        interpolated_energies_eV=[energies[0]]
        + [terms[f"image_{k}"].frames.energies[0] for k in range(1, len(images) + 1)]
        + [energies[-1]],
        frozen_energies_eV=frozen,
        frozen_barrier_eV=None if frozen is None else path_barrier(frozen),
        frozen_terms=frozen_ids,
    )


@register("migration")
def migration_properties(ctx: PropertyContext) -> None:
    """One ``migration_barrier`` (eV, label ``hop <k>``) per symmetry-distinct hop."""
    generation = ctx.generation()
    for skipped in generation.skipped:
        ctx.notes.append(f"{skipped.label}: skipped, {skipped.reason}")
    for hop_index, path in _paths(generation.structures).items():
        _hop(ctx, hop_index, path)
