"""Structures with their DFT labels, and their split by material (never by structure).

What a fine-tune trains, validates and tests on (:mod:`pesbench.mlip.finetune`); loaded from
the database by :func:`pesbench.makers.finetune.load_training_set`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from pymatgen.core import Structure

__all__ = ["TrainingSet", "split_by_material"]


@dataclass
class TrainingSet:
    """Structures with their DFT labels, index-aligned.

    Attributes
    ----------
    structures
        The cells.
    energies
        Total energies, eV.
    forces
        (n_atoms, 3) arrays, eV/Å.
    stresses
        3x3 arrays, GPa, positive = tensile (ASE sign, as CHGNet predicts), or None.
    ids
        An id per structure (the reference_id).
    materials
        The material (reduced formula of the parent bulk) of each structure.
    """

    structures: list[Structure] = field(default_factory=list)
    energies: list[float] = field(default_factory=list)
    forces: list[np.ndarray] = field(default_factory=list)
    stresses: list[np.ndarray | None] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    materials: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.structures)

    def subset(self, materials: Sequence[str]) -> TrainingSet:
        """The structures of ``materials`` only."""
        return self.take([i for i, m in enumerate(self.materials) if m in set(materials)])

    def take(self, keep: Sequence[int]) -> TrainingSet:
        """The structures at the positions ``keep``, in that order."""
        return TrainingSet(
            [self.structures[i] for i in keep],
            [self.energies[i] for i in keep],
            [self.forces[i] for i in keep],
            [self.stresses[i] for i in keep],
            [self.ids[i] for i in keep],
            [self.materials[i] for i in keep],
        )

    def energies_per_atom(self) -> np.ndarray:
        """Energies divided by the number of atoms, eV/atom."""
        return np.array([e / len(s) for e, s in zip(self.energies, self.structures, strict=True)])


def split_by_material(
    materials: Sequence[str],
    *,
    seed: int = 0,
    fractions: tuple[float, float] = (0.2, 0.2),
    val: Sequence[str] | None = None,
    test: Sequence[str] | None = None,
) -> dict[str, list[str]]:
    """Split materials (never structures) into train, val and test.

    Parameters
    ----------
    materials
        Material of each structure (repeats allowed).
    seed
        Seed of the shuffle of the materials (``random.Random(seed)``).
    fractions
        Fractions of the materials for val and test (each at least one material when
        there are three or more), used for the splits not given explicitly.
    val, test
        Explicit materials of those splits.

    Returns
    -------
    dict
        ``{"train": [...], "val": [...], "test": [...]}``, sorted names, disjoint.
    """
    unique = sorted(set(materials))
    fixed = {"val": list(val or []), "test": list(test or [])}
    unknown = sorted(set(fixed["val"] + fixed["test"]) - set(unique))
    if unknown:
        raise ValueError(f"material(s) {', '.join(unknown)} have no structures")
    if set(fixed["val"]) & set(fixed["test"]):
        raise ValueError("a material cannot be in both val and test")
    rest = [m for m in unique if m not in fixed["val"] + fixed["test"]]
    random.Random(seed).shuffle(rest)
    for name, fraction in (("test", fractions[1]), ("val", fractions[0])):
        if (name == "test" and test is not None) or (name == "val" and val is not None):
            continue
        n = max(1, round(fraction * len(unique))) if len(unique) >= 3 and fraction > 0 else 0
        fixed[name], rest = rest[:n], rest[n:]
    if not rest:
        raise ValueError(f"no material left to train on ({', '.join(unique)})")
    return {"train": sorted(rest), "val": sorted(fixed["val"]), "test": sorted(fixed["test"])}
