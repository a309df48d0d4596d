"""Write ``mace_e3nn044.model`` and its predictions under e3nn 0.4.4 (mace-torch's pin).

The test ``tests/mlip/test_mace_e3nn.py`` loads the file under the project's e3nn (0.5.1,
which sevenn needs) and checks the predictions are identical. Regenerate, from the
repository root, with e3nn 0.4.4 placed ahead of the venv's:

    pip download e3nn==0.4.4 --no-deps -d /tmp/wh
    mkdir /tmp/e3nn044 && (cd /tmp/e3nn044 && unzip -q /tmp/wh/e3nn-0.4.4-py3-none-any.whl)
    PYTHONPATH=/tmp/e3nn044 .venv/bin/python tests/mlip/data/make_mace_e3nn044.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from pymatgen.core import Lattice, Structure

HERE = Path(__file__).parent


def structures() -> list[Structure]:
    """Rattled Si, MgO and Cu cells (fixed seed)."""
    rng = np.random.default_rng(7)
    si = Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.47), ["Si"], [[0, 0, 0]])
    mgo = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(4.26), ["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )
    cu = Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.63), ["Cu"], [[0, 0, 0]])
    out = []
    for s in (si.get_primitive_structure(), mgo, cu.get_primitive_structure() * (2, 1, 1)):
        s = s.copy()
        s.translate_sites(range(len(s)), [0, 0, 0])
        for i in range(len(s)):
            s.translate_sites([i], rng.uniform(-0.08, 0.08, 3), frac_coords=False)
        s.apply_strain(rng.uniform(-0.02, 0.02, 3))
        out.append(s)
    return out


def main() -> None:
    import e3nn

    from pesbench.mlip import load_model
    from pesbench.testing.models import build_tiny_mace

    assert e3nn.__version__ == "0.4.4", f"run under e3nn 0.4.4, not {e3nn.__version__}"
    path = build_tiny_mace(HERE / "mace_e3nn044.model", seed=44)
    cells = structures()
    preds = load_model(f"mace:{path}", device="cpu", check=False).predict(cells, batched=False)
    assert preds.n_failed == 0
    payload = {
        "e3nn": e3nn.__version__,
        "structures": [s.as_dict() for s in cells],
        "energies": preds.energies,
        "forces": [f.tolist() for f in preds.forces],
        "stresses": [s.tolist() for s in preds.stresses],
    }
    (HERE / "mace_e3nn044.json").write_text(json.dumps(payload))


if __name__ == "__main__":
    main()
