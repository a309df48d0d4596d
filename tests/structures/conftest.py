"""Bulk crystals of the acceptance tests, built here (no files, no network)."""

from __future__ import annotations

import pytest
from pymatgen.core import Lattice, Structure


def build_si() -> Structure:
    return Structure.from_spacegroup(
        "Fd-3m", Lattice.cubic(5.468), ["Si"], [[0, 0, 0]]
    ).get_primitive_structure()


def build_rocksalt(cation: str, anion: str, a: float) -> Structure:
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(a), [cation, anion], [[0, 0, 0], [0.5, 0.5, 0.5]]
    ).get_primitive_structure()


def build_licoo2() -> Structure:
    return Structure.from_spacegroup(
        "R-3m",
        Lattice.hexagonal(2.82, 14.05),
        ["Li", "Co", "O"],
        [[0, 0, 0.5], [0, 0, 0], [0, 0, 0.2604]],
    ).get_primitive_structure()


BUILDERS = {
    "Si": build_si,
    "LiF": lambda: build_rocksalt("Li", "F", 4.03),
    "MgO": lambda: build_rocksalt("Mg", "O", 4.21),
    "LiCoO2": build_licoo2,
}


@pytest.fixture(scope="session")
def bulks() -> dict[str, Structure]:
    return {name: build() for name, build in BUILDERS.items()}


@pytest.fixture(params=list(BUILDERS))
def material(request: pytest.FixtureRequest, bulks: dict[str, Structure]) -> tuple[str, Structure]:
    return request.param, bulks[request.param].copy()
