from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pesbench.schemas.structure import CATEGORIES, GenerationDoc
from pesbench.structures import GenerationParameterError, generate, resolve_params

# small settings so that every category runs in about a second
FAST: dict[str, dict] = {
    "surface": {"max_index": 1},
    "defect": {"max_interstitial_sites": 1},
    "solid_solution": {"fractions": [0.25], "substituent": "Ca", "sublattice": "Mg"},
    "migration": {"n_images": 1},
    "phonon": {},
    "high_energy": {"md_snapshots": 0, "n_rattled": 1},
}

SCRIPT = """
import json, sys
from pesbench.structures import generate, load_structure
bulk = load_structure(sys.argv[1])
fast = json.loads(sys.argv[2])
print(json.dumps({c: generate(bulk, c, p).structure_ids for c, p in fast.items()}))
"""


def test_unknown_category_and_parameter() -> None:
    with pytest.raises(GenerationParameterError, match=r"unknown category 'surfaces'.*'surface'"):
        resolve_params("surfaces")
    with pytest.raises(GenerationParameterError, match=r"unknown parameter 'max_idx'.*'max_index'"):
        resolve_params("surface", {"max_idx": 3})
    with pytest.raises(GenerationParameterError, match="max_index: Input should be a valid int"):
        resolve_params("surface", {"max_index": "two"})
    assert resolve_params("surface", {"max_index": "1"}).max_index == 1  # type: ignore[attr-defined]


def test_every_category_makes_documents(bulks: dict) -> None:
    for category in CATEGORIES:
        doc = generate(bulks["MgO"], category, FAST[category], source="MgO.cif")
        assert isinstance(doc, GenerationDoc)
        assert doc.structures, category
        for item in doc.structures:
            assert item.category == category
            assert item.details.kind == category
            assert item.parent_id == doc.parent_id
            assert item.source == "MgO.cif"
            assert item.generator.startswith(f"pesbench.structures.{category}.")
        again = GenerationDoc.model_validate_json(doc.model_dump_json())
        assert again.structure_ids == doc.structure_ids
        assert again.structures[0].structure == doc.structures[0].structure


def test_same_seed_same_ids_across_processes(tmp_path: Path, bulks: dict) -> None:
    path = tmp_path / "MgO.json"
    path.write_text(json.dumps(bulks["MgO"].as_dict()))
    here = {c: generate(bulks["MgO"], c, p).structure_ids for c, p in FAST.items()}
    env = {**os.environ, "PYTHONHASHSEED": "12345", "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(path), json.dumps(FAST)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=300,
    )
    there = json.loads(out.stdout.strip().splitlines()[-1])
    assert there == here
    changed = generate(bulks["MgO"], "high_energy", {**FAST["high_energy"], "seed": 7})
    assert changed.structure_ids[0] != here["high_energy"][0]
