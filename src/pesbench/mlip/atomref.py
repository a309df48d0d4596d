"""CHGNet's elemental reference energies (AtomRef): read, write, refit on new references.

Total energies of two functionals (GGA, r2SCAN) differ by large per-element shifts, which
CHGNet's AtomRef (``model.composition_model``) absorbs best when refitted by least squares on
the new references (:func:`refit_atomref`) before fine-tuning and then frozen (the transfer
paper: Huang, Deng et al., npj Comput. Mater. 11, 313, 2025). :func:`span_notes` says which
held-out materials such a refit cannot reach.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from pymatgen.core import Composition, Element

from pesbench.analysis.referencing import (
    AtomRef,
    CompositionLike,
    UnderdeterminedFitError,
    composition_matrix,
    fit_atomref,
)

__all__ = ["atomref_of", "refit_atomref", "set_atomref", "span_notes"]


def refit_atomref(
    compositions: Sequence[CompositionLike],
    energies: ArrayLike,
    prior: Mapping[str, float],
) -> AtomRef:
    """Refit elemental reference energies on ``energies``, as a shift from ``prior``.

    The shift ``mu - prior`` is fitted by least squares on ``E - sum n_el prior_el``
    (per atom, :func:`~pesbench.analysis.referencing.fit_atomref`); when the compositions
    do not fix every element (few stoichiometries), the minimum-norm shift is taken, so
    that an element's value moves from ``prior`` only as far as the data ask. With enough
    stoichiometries the result is the plain least-squares AtomRef, whatever the prior.

    Parameters
    ----------
    compositions
        One composition per structure.
    energies
        Total energies, eV.
    prior
        Element -> reference energy, eV/atom, for every element present (e.g. the
        pretrained model's AtomRef).

    Returns
    -------
    AtomRef
        The refitted values of the elements present.
    """
    matrix, elements = composition_matrix(compositions)
    missing = [el for el in elements if el not in prior]
    if missing:
        raise ValueError(f"no prior reference energy for {', '.join(missing)}")
    mu0 = np.array([prior[el] for el in elements])
    residual = np.asarray(energies, dtype=float) - matrix @ mu0
    try:
        shift = fit_atomref(compositions, residual, elements)
        delta = np.array([shift.energies[el] for el in elements])
        rmse = shift.rmse_per_atom
    except UnderdeterminedFitError:
        n_atoms = matrix.sum(axis=1)
        a, b = matrix / n_atoms[:, None], residual / n_atoms
        delta = np.linalg.lstsq(a, b, rcond=None)[0]  # minimum norm
        rmse = float(np.sqrt(np.mean((b - a @ delta) ** 2)))
    return AtomRef(
        energies={el: float(m) for el, m in zip(elements, mu0 + delta, strict=True)},
        rmse_per_atom=rmse,
        n_structures=len(residual),
    )


def atomref_of(model: Any, elements: Sequence[str]) -> dict[str, float]:
    """A CHGNet's AtomRef values (eV/atom) of ``elements``."""
    weight = model.composition_model.fc.weight.detach().cpu().numpy().reshape(-1)
    return {el: float(weight[Element(el).Z - 1]) for el in elements}


def span_notes(train: Sequence[CompositionLike], others: Mapping[str, str]) -> list[str]:
    """Warnings for the materials whose reference energy the training set does not fix.

    A refitted AtomRef fixes the reference energy of exactly the compositions in the span
    of the training compositions; for any other, part of its reference energy stays at
    the base model's values (the minimum-norm shift), an offset training cannot see.

    Parameters
    ----------
    train
        Compositions of the training structures.
    others
        Material (reduced formula) -> the split it is in (``val``, ``test``).
    """
    elements = sorted(
        {str(el) for c in train for el in Composition(c).elements}
        | {str(el) for m in others for el in Composition(m).elements}
    )
    matrix, _ = composition_matrix(list(train), elements)
    trained = {el for el, n in zip(elements, matrix.sum(axis=0), strict=True) if n > 0}
    notes = []
    for material, split in sorted(others.items()):
        target, _ = composition_matrix([material], elements)
        coef, *_ = np.linalg.lstsq(matrix.T, target[0], rcond=None)
        residual = float(np.linalg.norm(matrix.T @ coef - target[0]))
        if residual > 1e-8 * float(np.linalg.norm(target[0])):
            missing = sorted(
                str(el) for el in Composition(material).elements if str(el) not in trained
            )
            why = f"{', '.join(missing)} not in training" if missing else "not in their span"
            notes.append(
                f"{material} ({split}) is not a combination of the training compositions "
                f"({why}): part of its reference energy stays at the base model's AtomRef"
            )
    return notes


def set_atomref(model: Any, energies: Mapping[str, float]) -> None:
    """Write AtomRef values (eV/atom) into a CHGNet's composition model."""
    with torch.no_grad():
        weight = model.composition_model.fc.weight
        for el, value in energies.items():
            weight[0, Element(el).Z - 1] = value
