"""A MACE model pickled under e3nn 0.4.4 (mace-torch's pin) loads and predicts the same
under the project's e3nn (0.5.1, for sevenn): the override of the pin is safe.

The model file and its predictions were written under e3nn 0.4.4 by
``tests/mlip/data/make_mace_e3nn044.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import e3nn
import numpy as np
from pymatgen.core import Structure

from pesbench.mlip import load_model

DATA = Path(__file__).parent / "data"


def test_e3nn_044_pickle_predicts_identical_numbers() -> None:
    recorded = json.loads((DATA / "mace_e3nn044.json").read_text())
    assert recorded["e3nn"] == "0.4.4"
    assert e3nn.__version__ != "0.4.4"  # the point: another e3nn than the pickle's
    cells = [Structure.from_dict(d) for d in recorded["structures"]]
    preds = load_model(f"mace:{DATA / 'mace_e3nn044.model'}", device="cpu", check=False)
    out = preds.predict(cells, batched=False)
    assert out.n_failed == 0
    for k in range(len(cells)):
        assert abs(out.energies[k] - recorded["energies"][k]) < 1e-10
        assert np.abs(out.forces[k] - np.array(recorded["forces"][k])).max() < 1e-10
        assert np.abs(out.stresses[k] - np.array(recorded["stresses"][k])).max() < 1e-10
    assert max(np.abs(np.array(f)).max() for f in recorded["forces"]) > 1e-3  # not all zero
