"""pymatgen's ``Structure.as_dict()`` and ``Structure.from_dict()``, the same results, faster.

Every stored document holds its structure as ``as_dict()`` (verbosity 1), and reading one
back calls ``from_dict()``. pymatgen builds both site by site through general code:
``as_dict`` writes the lattice, with its parameters and volume, once per site and then
deletes it (about three quarters of its time), and ``from_dict`` builds every site twice
(``PeriodicSite.from_dict``, then ``Structure.from_sites``). At 10^5 imported frames, or
the 1,000 structures of a campaign stored and read back, that is a measurable share of
the whole (issue 16's import rate, issue 14's orchestration share).

:func:`structure_to_dict` returns a dict equal to ``as_dict()``, key order included: the
lattice is written once, each site's coordinates are the site's own arrays (not recomputed,
so the floats are the same bits). :func:`structure_from_dict` builds the structure in one
``Structure(...)`` call when every site is plain (elements without oxidation state, no
site properties, a label written), which is what ``as_dict`` writes for the structures
pesbench generates and imports; otherwise, and for any subclass or format it does not
know, it calls pymatgen's own method. ``tests/schemas/test_structure_dict.py`` checks both
against pymatgen's on plain, decorated, disordered and labelled structures.
"""

from __future__ import annotations

from typing import Any

from pymatgen.core import Element, Lattice, Structure

__all__ = ["structure_from_dict", "structure_to_dict"]


def structure_to_dict(structure: Structure) -> dict[str, Any]:
    """``structure.as_dict()`` (verbosity 1), built with the lattice written once."""
    if type(structure) is not Structure:
        return structure.as_dict()
    lattice = structure.lattice.as_dict(verbosity=1)
    del lattice["@module"], lattice["@class"]
    sites, elements_only = [], True
    for site in structure:
        species = []
        for spec, occu in site.species.items():
            if type(spec) is Element:
                species.append({"element": spec.symbol, "occu": occu})
            else:
                elements_only = False
                entry = spec.as_dict()
                del entry["@module"], entry["@class"]
                entry["occu"] = occu
                species.append(entry)
        sites.append(
            {
                "species": species,
                "abc": site.frac_coords.astype(float).tolist(),
                "properties": site.properties,
                "label": site.label,
                "xyz": site.coords.astype(float).tolist(),
            }
        )
    return {
        "@module": type(structure).__module__,
        "@class": type(structure).__name__,
        "charge": _charge(structure, elements_only),
        "lattice": lattice,
        "properties": structure.properties,
        "sites": sites,
    }


def _charge(structure: Structure, elements_only: bool) -> float:
    """``structure.charge``: 0.0 for elements with no charge set, read without a site loop."""
    if elements_only and getattr(structure, "_charge", 0) is None:
        return 0.0  # pymatgen sums 0 per element (twice), then returns that sum
    return structure.charge


def structure_from_dict(data: dict[str, Any]) -> Structure:
    """``Structure.from_dict(data)``, in one constructor call when every site is plain."""
    sites = data.get("sites") or []
    plain = data.get("@class", "Structure") == "Structure" and bool(sites)
    species: list[dict[Element, float]] = []
    for site in sites if plain else ():
        if site.get("properties") or not isinstance(site.get("label"), str):
            plain = False
            break
        occupancy = {}
        for entry in site["species"]:
            if len(entry) != 2 or "element" not in entry or "occu" not in entry:
                plain = False  # an oxidation state, a spin: pymatgen's own path
                break
            occupancy[Element(entry["element"])] = entry["occu"]
        if not plain:
            break
        species.append(occupancy)
    if not plain:
        return Structure.from_dict(data)
    return Structure(
        Lattice.from_dict(data["lattice"]),
        species,
        [site["abc"] for site in sites],
        charge=data.get("charge"),
        site_properties={},
        labels=[site["label"] for site in sites],
        properties=data.get("properties"),
    )
