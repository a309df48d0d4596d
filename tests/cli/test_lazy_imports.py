"""``pesbench predict`` imports only what prediction needs (issue 14: peak memory).

Measured in a fresh interpreter: the modules a whole ``pesbench predict`` run on a
CHGNet-readable file has loaded at its end. phonopy (with networkx, seekpath: ~140 MB) is
the phonon generator's, FireWorks and jobflow the campaigns'; sympy is what torch imports
when ``autograd.grad`` gets a tensor ``grad_outputs`` (~34 MB).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pymatgen.core import Lattice, Structure

HEAVY = ("phonopy", "networkx", "seekpath", "sympy", "fireworks", "jobflow", "atomate2")

SCRIPT = """
import contextlib, io, json, sys
from pesbench.cli.main import main
sys.argv = ["pesbench", "predict", "--json", sys.argv[1]]
with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        main()
    except SystemExit as exc:
        assert not exc.code, exc.code
assert json.loads(out.getvalue()), "no prediction"
print(json.dumps(sorted(m for m in sys.modules if "." not in m)))
"""


def test_predict_loads_no_heavy_library_it_does_not_use(tmp_path: Path) -> None:
    cell = tmp_path / "si.json"
    Structure(Lattice.cubic(5.43), ["Si"] * 2, [[0, 0, 0], [0.25, 0.25, 0.25]]).to(
        filename=str(cell)
    )
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(cell)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    loaded = set(json.loads(run.stdout.strip().splitlines()[-1]))
    assert {"chgnet", "torch"} <= loaded  # it did predict
    assert sorted(loaded & set(HEAVY)) == []
