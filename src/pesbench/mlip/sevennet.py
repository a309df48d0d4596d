"""SevenNet: the weights shipped in the sevenn wheel, or a checkpoint file.

Model ids (:data:`SEVENNET_MODELS`): ``7net-0`` and ``7net-l3i5`` (trained on MPtrj, PBE
and PBE+U), and the two heads of the multi-fidelity ``7net-mf-0`` (Kim et al., J. Am. Chem.
Soc. 147, 1042 (2025)): ``7net-mf-0:PBE`` (MPtrj) and ``7net-mf-0:r2SCAN`` (MP-r2SCAN). A
local checkpoint is ``sevennet:<path>`` (one head, or ``sevennet:<path>@<modal>``).

Energies are the raw DFT total energies the models were trained on: the checkpoints'
configurations name their training data ``chgnet_total_dataset_uncorrected`` (MPtrj's
``uncorrected_total_energy``), unlike CHGNet, which learned MP2020-corrected energies
(:mod:`pesbench.analysis.conventions`).

Batches are built the way ``sevenn``'s own inference script builds them: one
``AtomGraphData`` graph per structure (``unlabeled_atoms_to_graph``, as
``SevenNetCalculator`` does), merged by ``torch_geometric``, one forward pass with the
model in batch mode; the modality is set on every graph, as ``SevenNetMultiModalDataset``
does. The results equal ``SevenNetCalculator``'s structure by structure
(``tests/mlip/test_sevennet.py``).
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import numpy as np
from ase.stress import voigt_6_to_full_3x3_stress
from pymatgen.core import Element, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from pesbench.analysis.conventions import KNOWN_CONVENTIONS
from pesbench.mlip.base import EV_PER_A3_TO_GPA, Predictor, RawResult, state_dict_checksum
from pesbench.mlip.errors import ModelUnavailableError
from pesbench.mlip.ids import ModelSpec, find_local
from pesbench.schemas.base import Functional
from pesbench.schemas.prediction import ModelInfo
from pesbench.settings import PesbenchSettings

__all__ = ["SEVENNET_MODELS", "SevenNetModel", "SevenNetPredictor", "load_sevennet"]


@dataclass(frozen=True)
class SevenNetModel:
    """A pretrained SevenNet model of the sevenn wheel."""

    checkpoint: str
    """Name ``sevenn.util.load_checkpoint`` resolves to the file in the wheel."""
    modal: str | None
    """Head of a multi-fidelity model (sevenn's spelling, case-sensitive)."""
    functional: Functional
    training_data: str


SEVENNET_MODELS: dict[str, SevenNetModel] = {
    "7net-0": SevenNetModel("7net-0", None, "PBE", "MPtrj (PBE/PBE+U, uncorrected energies)"),
    "7net-l3i5": SevenNetModel("7net-l3i5", None, "PBE", "MPtrj (PBE/PBE+U, uncorrected energies)"),
    "7net-mf-0:PBE": SevenNetModel(
        "7net-mf-0", "PBE", "PBE", "MPtrj + MP-r2SCAN, PBE head (uncorrected energies)"
    ),
    "7net-mf-0:r2SCAN": SevenNetModel(
        "7net-mf-0", "R2SCAN", "r2SCAN", "MPtrj + MP-r2SCAN, r2SCAN head (MP r2SCAN energies)"
    ),
}
"""Model id -> the pretrained model in the sevenn 0.13 wheel (no download)."""


class SevenNetPredictor(Predictor):
    """A SevenNet ``AtomGraphSequential`` evaluated on batched graphs."""

    def __init__(self, model: Any, info: ModelInfo, device: str, modal: str | None) -> None:
        symbols = frozenset(Element.from_Z(int(z)).symbol for z in model.type_map)
        super().__init__(info, device, symbols)
        self.model = model
        self.modal = modal
        self.cutoff = float(model.cutoff)

    def _forward(self, structures: Sequence[Structure]) -> list[RawResult]:
        import sevenn._keys as key
        from sevenn.atom_graph_data import AtomGraphData
        from sevenn.train.dataload import unlabeled_atoms_to_graph
        from torch_geometric.data import Batch

        graphs = []
        for structure in structures:
            atoms = AseAtomsAdaptor.get_atoms(structure)
            graph = AtomGraphData.from_numpy_dict(
                unlabeled_atoms_to_graph(atoms, self.cutoff, with_shift=False)
            )
            if self.modal:
                graph[key.DATA_MODALITY] = self.modal
            graphs.append(graph)
        batch = Batch.from_data_list(graphs).to(self.device)
        out = self.model(batch)
        energies = out[key.PRED_TOTAL_ENERGY].detach().cpu().numpy().reshape(-1).astype(float)
        forces = out[key.PRED_FORCE].detach().cpu().numpy().astype(float)
        # sevenn's stress: (xx, yy, zz, xy, yz, zx), eV/Å³, positive = compressive;
        # SevenNetCalculator hands ASE -stress[[0, 1, 2, 4, 5, 3]]
        raw = out[key.PRED_STRESS].detach().cpu().numpy().reshape(-1, 6).astype(float)
        splits = np.cumsum([len(s) for s in structures])[:-1]
        return [
            RawResult(
                energy=float(e),
                forces=f,
                stress=voigt_6_to_full_3x3_stress(-s[[0, 1, 2, 4, 5, 3]]) * EV_PER_A3_TO_GPA,
            )
            for e, f, s in zip(energies, np.split(forces, splits), raw, strict=True)
        ]


def load_sevennet(
    spec: ModelSpec, device: str, functional: Functional, settings: PesbenchSettings
) -> SevenNetPredictor:
    """Load a pretrained model of the wheel, or a checkpoint (``sevennet:<path>[@modal]``)."""
    import sevenn.util as util

    if spec.path is None:
        known = SEVENNET_MODELS.get(spec.name)
        if known is None:
            raise ModelUnavailableError(
                f"{spec.model_id}: the sevenn wheel ships {', '.join(SEVENNET_MODELS)}; "
                "others (7net-omat, 7net-mf-ompa, 7net-omni) download their weights at run "
                "time: fetch the checkpoint on a connected machine and use sevennet:<path>"
            )
        source, modal = known.checkpoint, known.modal
        training_data: str | None = known.training_data
    else:
        path = find_local(spec, ("",), settings)
        if path is None or not path.is_file():
            raise ModelUnavailableError(
                f"{spec.model_id}: no SevenNet checkpoint at {spec.path} "
                f"(nor under {settings.models_path})"
            )
        source, modal, training_data = str(path), spec.head, None
    with warnings.catch_warnings():  # "no tensor product accelerator" (none on CPU), and
        warnings.simplefilter("ignore", UserWarning)  # e3nn's torch.jit.script deprecation
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            checkpoint = util.load_checkpoint(source)
            model = checkpoint.build_model()
        except Exception as exc:
            raise ModelUnavailableError(
                f"{spec.model_id}: {source} is not a loadable SevenNet checkpoint "
                f"({type(exc).__name__}: {exc})"
            ) from None
    heads = list((getattr(model, "modal_map", None) or {}).keys())
    if heads and modal not in heads:
        raise ModelUnavailableError(
            f"{spec.model_id}: a multi-fidelity model; name its head: "
            + ", ".join(f"{spec.model_id.split('@')[0]}@{h}" for h in heads)
        )
    if not heads and modal:
        raise ModelUnavailableError(f"{spec.model_id}: the model has one head, not '{modal}'")
    model.set_is_batch_data(True)
    model.to(device)
    model.eval()
    checksum = state_dict_checksum(model)
    if modal:  # one set of weights, two models: the head is part of the identity
        checksum = hashlib.sha256(f"{checksum}|modal={modal}".encode()).hexdigest()[:16]
    info = ModelInfo(
        model_id=spec.model_id,
        name="sevennet",
        version=spec.name,
        checksum=checksum,
        functional=functional,
        framework=f"sevenn {version('sevenn')}",
        energy_convention=KNOWN_CONVENTIONS.get(spec.model_id, "unknown"),
        training_data=training_data,
    )
    return SevenNetPredictor(model, info, device, modal)
