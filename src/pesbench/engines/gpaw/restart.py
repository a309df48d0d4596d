"""Whether a GPAW single point can start from a previous run's ``gpaw.gpw`` (``prev_dir``).

See :mod:`pesbench.engines.gpaw.engine` for the rule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Structure

from pesbench.engines.gpaw.inputs import GpawInputs
from pesbench.engines.gpaw.results import read_json_object
from pesbench.engines.gpaw.worker import INPUTS, RESULTS, STATE
from pesbench.schemas.ids import structure_id
from pesbench.schemas.reference import hash_inputs, reference_id

__all__ = ["start_from", "writes_state"]

_START_FREE = frozenset({"xc", "convergence"})
"""``input_settings`` entries a run may change from the run it starts from."""


_SAME_ATOMS_TOL_A = 1e-6
"""Largest difference of positions and cell vectors (Å) for "the same atoms"."""


def start_from(prev_dir: Path, inputs: dict[str, Any]) -> dict[str, Any]:
    """Whether a run with ``inputs`` (``inputs.json``'s content) can start from ``prev_dir``.

    Parameters
    ----------
    prev_dir
        The folder of a previous single point of this engine.
    inputs
        ``input_settings`` and ``atoms`` of the new run, as ``inputs.json`` holds them.

    Returns
    -------
    dict
        ``prev_dir``; ``from``: the state file to start from, or None; ``parent_reference_id``:
        the previous run's reference (None when not starting from it); ``reason``: why not,
        or None.
    """
    plan: dict[str, Any] = {
        "prev_dir": str(prev_dir),
        "from": None,
        "parent_reference_id": None,
        "reason": None,
    }
    prev = read_json_object(prev_dir / INPUTS)
    done = read_json_object(prev_dir / RESULTS)
    state = prev_dir / STATE
    if prev is None or done is None:
        plan["reason"] = f"no previous GPAW run in {prev_dir}"
    elif done.get("status") != "success" or prev.get("mode", "single") != "single":
        plan["reason"] = "the previous run is not a successful single point"
    elif not state.is_file():
        plan["reason"] = f"the previous run left no {STATE}"
    else:
        plan["reason"] = _mismatch(prev, inputs)
    if plan["reason"] is None and prev is not None:
        structure = Structure.from_dict(prev["structure"])
        settings = prev["input_settings"]
        plan["from"] = str(state)
        plan["parent_reference_id"] = reference_id(
            structure_id(structure), prev["functional"], hash_inputs(settings)
        )
    return plan


def _mismatch(prev: dict[str, Any], inputs: dict[str, Any]) -> str | None:
    """Why the previous run's cell or settings differ from ``inputs``', or None."""
    old, new = prev.get("atoms") or {}, inputs["atoms"]
    if old.get("numbers") != new["numbers"]:
        return "the previous run computed other atoms"
    for key in ("positions", "cell"):
        a, b = np.asarray(old.get(key), dtype=float), np.asarray(new[key], dtype=float)
        if a.shape != b.shape or np.abs(a - b).max() > _SAME_ATOMS_TOL_A:
            return f"the previous run's {key} differ"
    before, now = prev.get("input_settings") or {}, inputs["input_settings"]
    keys = (set(before) | set(now)) - _START_FREE
    differ = sorted(k for k in keys if before.get(k) != now.get(k))
    if differ:
        return f"the previous run's settings differ: {', '.join(differ)}"
    return None


def writes_state(inputs: GpawInputs) -> bool:
    """A GGA run without +U: the start of a later run of another functional."""
    settings = inputs["input_settings"]
    return bool(settings["xc"] == "PBE" and not settings["hubbard_u_eV"])
