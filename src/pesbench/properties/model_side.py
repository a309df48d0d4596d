"""A uMLIP as a side: a :class:`~pesbench.mlip.base.Predictor` wrapped as an ASE calculator.

See :mod:`pesbench.properties.sides`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from pesbench.analysis.conventions import raw_energy
from pesbench.mlip.base import EV_PER_A3_TO_GPA, Predictor
from pesbench.properties.side import Side, outcome_to_doc
from pesbench.relax import RelaxOutcome, relax_atoms, relax_many
from pesbench.schemas.relaxation import RelaxationDoc, RelaxSettings

__all__ = ["ModelSide", "PredictorCalculator", "predict_ase"]


def predict_ase(
    predictor: Predictor, structures: Sequence[Atoms], atom_budget: int | None = None
) -> list[dict[str, Any] | str]:
    """A model's results for ASE structures, in one :meth:`~Predictor.predict` call.

    Parameters
    ----------
    predictor
        The model; its forward passes are batched by ``atom_budget`` atoms.
    structures
        ASE ``Atoms`` (converted with pymatgen's ``AseAtomsAdaptor``).
    atom_budget
        Most atoms per forward pass (default: the model's for its device).

    Returns
    -------
    list
        Per structure, the results an ASE calculator holds (``energy``, ``free_energy``,
        ``forces``, Voigt ``stress`` in eV/Å³, ASE's sign), or ``"<model id>: <reason>"``
        where the model has none (:data:`pesbench.relax.Evaluate`).
    """
    preds = predictor.predict(
        [AseAtomsAdaptor.get_structure(atoms) for atoms in structures], atom_budget=atom_budget
    )
    out: list[dict[str, Any] | str] = []
    for k in range(len(structures)):
        if preds.failures[k] is not None:
            out.append(f"{predictor.model_id}: {preds.failures[k]}")
            continue
        stress = np.asarray(preds.stresses[k]) / EV_PER_A3_TO_GPA  # GPa -> eV/Å³
        energy = float(preds.energies[k])  # type: ignore[arg-type]
        out.append(
            {
                "energy": energy,
                "free_energy": energy,
                "forces": np.asarray(preds.forces[k]),
                "stress": stress.reshape(3, 3)[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]],
            }
        )
    return out


class PredictorCalculator(Calculator):
    """A :class:`~pesbench.mlip.base.Predictor` as an ASE calculator (one structure a call).

    A structure the model cannot handle raises ``RuntimeError`` with the model's reason.
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress"]  # noqa: RUF012

    def __init__(self, predictor: Predictor) -> None:
        super().__init__()
        self.predictor = predictor

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: Sequence[str] = ("energy",),
        system_changes: Sequence[str] = tuple(all_changes),
    ) -> None:
        """Predict energy, forces and stress of ``atoms``."""
        super().calculate(atoms, properties, system_changes)
        assert self.atoms is not None
        result = predict_ase(self.predictor, [self.atoms])[0]
        if isinstance(result, str):
            raise RuntimeError(result)
        self.results = result


class ModelSide(Side):
    """A uMLIP relaxing its own copy of every structure.

    Parameters
    ----------
    predictor
        The loaded model.
    atom_budget
        Most atoms per forward pass of :meth:`relax_many` (default: the model's for its
        device, :data:`~pesbench.mlip.base.DEFAULT_ATOM_BUDGET`).
    """

    kind = "model"

    def __init__(
        self, predictor: Predictor, *, atom_budget: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.predictor = predictor
        self.atom_budget = atom_budget

    @property
    def label(self) -> str:
        """The model id."""
        return self.predictor.model_id

    @property
    def key(self) -> str:
        """``model:<id>:<weights checksum>``."""
        return f"model:{self.predictor.model_id}:{self.predictor.info.checksum}"

    @property
    def functional(self) -> str | None:
        """The training functional."""
        return self.predictor.info.functional

    def raw_energy(self, doc: RelaxationDoc) -> float:
        """The model's final energy less its MP2020 correction, if it predicts corrected ones."""
        assert doc.energy is not None
        structure = doc.final_structure or doc.structure
        return raw_energy(float(doc.energy), structure, self.predictor.info)

    def _relax(
        self, structure: Structure, settings: RelaxSettings, relax_id: str, parent_id: str | None
    ) -> RelaxationDoc:
        atoms = AseAtomsAdaptor.get_atoms(structure)
        atoms.calc = PredictorCalculator(self.predictor)
        try:
            outcome = relax_atoms(atoms, **settings.optimizer_kwargs())
        except RuntimeError as exc:
            outcome = RelaxOutcome(converged=False, n_steps=0, reason=str(exc)[:300])
        return outcome_to_doc(
            structure, outcome, side=self, settings=settings, relax_id=relax_id, parent_id=parent_id
        )

    def _relax_many(
        self,
        structures: list[Structure],
        settings: RelaxSettings,
        relax_ids: list[str],
        parent_ids: list[str | None],
    ) -> list[RelaxationDoc]:
        """All structures in lock step, one batched forward pass per optimizer step.

        :func:`pesbench.relax.relax_many`: each structure has its own ASE optimizer, as in
        :meth:`relax`, so the minima are those of one-by-one relaxations.
        """
        atoms = [AseAtomsAdaptor.get_atoms(s) for s in structures]

        def evaluate(batch: Sequence[Atoms]) -> list[dict[str, Any] | str]:
            return predict_ase(self.predictor, batch, self.atom_budget)

        outcomes = relax_many(atoms, evaluate, **settings.optimizer_kwargs())
        return [
            outcome_to_doc(s, outcome, side=self, settings=settings, relax_id=rid, parent_id=pid)
            for s, outcome, rid, pid in zip(
                structures, outcomes, relax_ids, parent_ids, strict=True
            )
        ]
