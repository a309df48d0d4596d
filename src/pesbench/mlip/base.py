"""The predictor interface every uMLIP adapter implements, and what all of them share.

An adapter turns a library's model into a :class:`Predictor`. It implements one method,
:meth:`Predictor._forward`, a forward pass over a list of structures (the library's own
batched pass where it has one, ``batched = False`` where it has none), and says which
elements the model knows. :meth:`Predictor.predict` does the rest, the same for every
adapter: it screens structures the model cannot handle, groups the others into batches by
an atom budget, falls back to one structure at a time when a batch fails so that only the
culprit fails, checks every output is finite, and times each batch.

Also here: the device and thread selection, and the weights checksum.
"""

from __future__ import annotations

import hashlib
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch
from pymatgen.core import Structure

from pesbench.errors import PesbenchError
from pesbench.schemas.prediction import ModelInfo, PredictionDoc
from pesbench.settings import PesbenchSettings, get_settings

__all__ = [
    "DEFAULT_ATOM_BUDGET",
    "EV_PER_A3_TO_GPA",
    "Predictions",
    "Predictor",
    "RawResult",
    "batches_by_atoms",
    "select_device",
    "set_threads",
    "state_dict_checksum",
]

EV_PER_A3_TO_GPA = 160.21766208
"""1 eV/Å³ in GPa."""

DEFAULT_ATOM_BUDGET = {"cpu": 128, "cuda": 8192}
"""Atoms per forward pass when the caller gives no budget, by device type. CHGNet keeps
~10 MB per atom during a pass (it builds the graph of the force derivatives): 128 atoms on
CPU ran as fast as 512 with a third of the memory (benchmarks/orchestration/RESULTS.md)."""


class RawResult(NamedTuple):
    """What an adapter's forward pass returns for one structure."""

    energy: float
    """Total energy, eV."""
    forces: np.ndarray
    """(n_atoms, 3), eV/Å."""
    stress: np.ndarray
    """3x3, GPa, positive = tensile (ASE sign)."""


@dataclass
class Predictions:
    """Predictions for a list of structures, index-aligned with it.

    A structure that failed has ``None`` in ``energies``, ``forces`` and ``stresses``
    and its reason in ``failures``; the others have ``None`` there.
    """

    model: ModelInfo
    device: str
    energies: list[float | None] = field(default_factory=list)
    """Total energies, eV."""
    forces: list[np.ndarray | None] = field(default_factory=list)
    """Forces, (n_atoms, 3) each, eV/Å."""
    stresses: list[np.ndarray | None] = field(default_factory=list)
    """Stress tensors, 3x3, GPa, positive = tensile."""
    failures: list[str | None] = field(default_factory=list)
    """Why a structure has no prediction, in one line."""
    batch_sizes: list[int] = field(default_factory=list)
    """Structures in the forward pass each one was part of."""
    seconds: list[float] = field(default_factory=list)
    """Wall time of that pass divided by its size, s."""

    def __len__(self) -> int:
        return len(self.energies)

    @property
    def n_failed(self) -> int:
        """How many structures have no prediction."""
        return sum(reason is not None for reason in self.failures)

    def to_docs(
        self,
        structures: Sequence[Structure],
        structure_ids: Sequence[str] | None = None,
        **common: Any,
    ) -> list[PredictionDoc]:
        """One :class:`PredictionDoc` per structure (``common``: campaign, tags, ...)."""
        return [
            PredictionDoc.from_prediction(
                structure,
                model=self.model,
                device=self.device,
                batch_size=self.batch_sizes[k],
                seconds=self.seconds[k],
                energy=self.energies[k],
                forces=self.forces[k],
                stress=self.stresses[k],
                failure_reason=self.failures[k],
                structure_id=structure_ids[k] if structure_ids is not None else None,
                **common,
            )
            for k, structure in enumerate(structures)
        ]

    def energies_per_atom(self, structures: Sequence[Structure]) -> list[float | None]:
        """Energies divided by the number of atoms of ``structures`` (eV/atom)."""
        return [
            None if e is None else e / len(s)
            for e, s in zip(self.energies, structures, strict=True)
        ]


class Predictor(ABC):
    """A loaded uMLIP: :meth:`predict` energies, forces and stresses of structures.

    Parameters
    ----------
    info
        Identity of the model (id, version, weights checksum, training functional).
    device
        Torch device the model lives on, ``"cpu"`` or ``"cuda:0"``.
    elements
        Element symbols the model knows; ``None`` when the library cannot say (a
        structure with other elements is then tried, and fails if the library raises).
    """

    batched: ClassVar[bool] = True
    """Whether :meth:`_forward` evaluates several structures in one pass."""
    dft_trained: ClassVar[bool] = True
    """Whether the model's energies are DFT total energies of ``info.functional`` (the
    sanity check then compares them with known values); False for arbitrary calculators."""
    expected_energies: dict[str, float] | None = None
    """Energies per atom of the sanity-check cells recorded with this model's file (a
    fine-tuned model), checked on load instead of the functional's known values."""

    def __init__(self, info: ModelInfo, device: str, elements: frozenset[str] | None) -> None:
        self.info = info
        self.device = device
        self.elements = elements

    @property
    def model_id(self) -> str:
        """The model id it was loaded by."""
        return self.info.model_id

    @abstractmethod
    def _forward(self, structures: Sequence[Structure]) -> list[RawResult]:
        """Evaluate ``structures`` in one pass (one structure when ``batched`` is False)."""

    def screen(self, structure: Structure) -> str | None:
        """Why the model cannot take ``structure`` (an element it lacks, bad numbers), or None."""
        if not structure.is_ordered:
            return "disordered structure (partial occupancies): order it first"
        if not (
            np.all(np.isfinite(structure.cart_coords))
            and np.all(np.isfinite(structure.lattice.matrix))
        ):
            return "non-finite lattice or coordinates"
        if abs(structure.volume) < 1e-6:
            return "cell of zero volume"
        if self.elements is not None:
            missing = sorted({el.symbol for el in structure.composition} - self.elements)
            if missing:
                return f"element(s) {', '.join(missing)} unknown to {self.model_id}"
        return None

    def predict(
        self,
        structures: Sequence[Structure],
        *,
        atom_budget: int | None = None,
        batched: bool = True,
    ) -> Predictions:
        """Predict energy, forces and stress of every structure.

        Parameters
        ----------
        structures
            Periodic structures.
        atom_budget
            Most atoms per forward pass (default :data:`DEFAULT_ATOM_BUDGET` for the device);
            a structure larger than the budget gets a pass of its own.
        batched
            False evaluates one structure per pass (for comparison; the model stays loaded).

        Returns
        -------
        Predictions
            Index-aligned with ``structures``. A structure the model cannot handle (an
            element it lacks, a library error, a non-finite output) is a failure with its
            reason; the others are predicted.
        """
        n = len(structures)
        out = Predictions(
            model=self.info,
            device=self.device,
            energies=[None] * n,
            forces=[None] * n,
            stresses=[None] * n,
            failures=[None] * n,
            batch_sizes=[1] * n,
            seconds=[0.0] * n,
        )
        todo = []
        for i, structure in enumerate(structures):
            reason = self.screen(structure)
            if reason is None:
                todo.append(i)
            else:
                out.failures[i] = reason
        budget = atom_budget or DEFAULT_ATOM_BUDGET.get(
            self.device.split(":")[0], DEFAULT_ATOM_BUDGET["cpu"]
        )
        if not (batched and self.batched):
            budget = 0  # every structure alone
        sizes = [len(structures[i]) for i in todo]
        for chunk in batches_by_atoms(sizes, budget):
            indices = [todo[k] for k in chunk]
            self._run_batch(structures, indices, out)
        return out

    def _run_batch(
        self, structures: Sequence[Structure], indices: list[int], out: Predictions
    ) -> None:
        start = time.perf_counter()
        try:
            results: list[RawResult | str] = list(self._forward([structures[i] for i in indices]))
        except Exception as exc:
            if len(indices) == 1:
                results = [_reason(exc)]
            else:  # find the culprit: one by one, the rest still predicted
                for i in indices:
                    self._run_batch(structures, [i], out)
                return
        if len(results) != len(indices):
            raise RuntimeError(
                f"{type(self).__name__} returned {len(results)} results for {len(indices)}"
            )
        per_structure = (time.perf_counter() - start) / len(indices)
        for i, result in zip(indices, results, strict=True):
            out.batch_sizes[i] = len(indices)
            out.seconds[i] = per_structure
            if isinstance(result, str):
                out.failures[i] = result
                continue
            reason = _check_result(result, len(structures[i]))
            if reason is not None:
                out.failures[i] = reason
                continue
            out.energies[i] = float(result.energy)
            out.forces[i] = np.asarray(result.forces, dtype=float).reshape(-1, 3)
            out.stresses[i] = np.asarray(result.stress, dtype=float).reshape(3, 3)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "no message"
    return f"{type(exc).__name__}: {text[:300]}"


def _check_result(result: RawResult, n_atoms: int) -> str | None:
    forces = np.asarray(result.forces, dtype=float)
    stress = np.asarray(result.stress, dtype=float)
    if forces.size != 3 * n_atoms:
        return f"model returned forces of shape {forces.shape} for {n_atoms} atoms"
    if stress.size != 9:
        return f"model returned a stress of shape {stress.shape}"
    bad = [
        name
        for name, value in (("energy", result.energy), ("forces", forces), ("stress", stress))
        if not np.all(np.isfinite(value))
    ]
    if bad:
        return f"non-finite {', '.join(bad)} predicted"
    return None


def batches_by_atoms(sizes: Sequence[int], atom_budget: int) -> Iterator[list[int]]:
    """Group consecutive items into batches of at most ``atom_budget`` atoms.

    Parameters
    ----------
    sizes
        Number of atoms of each structure, in order.
    atom_budget
        Most atoms per batch; an item larger than it is a batch of its own. Zero or less:
        one item per batch.

    Yields
    ------
    list[int]
        Indices into ``sizes``, in order; every index exactly once.
    """
    batch: list[int] = []
    total = 0
    for i, size in enumerate(sizes):
        if batch and (atom_budget <= 0 or total + size > atom_budget):
            yield batch
            batch, total = [], 0
        batch.append(i)
        total += size
    if batch:
        yield batch


def select_device(settings: PesbenchSettings | None = None, device: str | None = None) -> str:
    """Return the torch device to run on: ``device``, else the ``device`` setting.

    ``"auto"`` takes ``"cuda:0"`` when CUDA is present, else ``"cpu"``. Asking for CUDA
    where there is none is an error.
    """
    choice = device or (settings or get_settings()).device
    if choice == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if choice.startswith("cuda"):
        if not torch.cuda.is_available():
            raise PesbenchError(
                f"device '{choice}' asked for, but torch {torch.__version__} sees no CUDA "
                "device; set PESBENCH_DEVICE=auto or cpu"
            )
        return choice if ":" in choice else "cuda:0"
    if choice != "cpu":
        raise PesbenchError(f"unknown device '{choice}': use auto, cpu or cuda")
    return "cpu"


def set_threads(settings: PesbenchSettings | None = None) -> int:
    """Apply the ``torch_threads`` setting (when set); return torch's thread count."""
    threads = (settings or get_settings()).torch_threads
    if threads is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def state_dict_checksum(module: torch.nn.Module) -> str:
    """sha256 of a model's parameters and buffers (names, dtypes, shapes, values), 16 hex."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        if not isinstance(tensor, torch.Tensor):
            continue
        data = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}|{data.dtype}|{tuple(data.shape)}|".encode())
        digest.update(data.view(-1).view(torch.uint8).numpy().tobytes() if data.numel() else b"")
    return digest.hexdigest()[:16]
