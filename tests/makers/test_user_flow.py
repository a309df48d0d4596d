"""docs/flows.md's own Flow, run from the page: it fills every clean collection.

The test runs the example's two code blocks as written, and changes only what a test must
between them, by ``update_maker_kwargs`` (as the page shows): the EMT fake engine
(``pesbench.testing.emt``) in place of GPAW, and ASE's EMT as the model in place of CHGNet
(no download, milliseconds). It also watches the fake engine's runs (a spy that changes
nothing) to see where each r2SCAN run started. The page's other blocks run on the
example's Flow without running it: the swaps reach the sub-makers, the submission puts
each job in its FireWorks category.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from pesbench.makers import PredictMaker, ReferenceMaker
from pesbench.makers.reference import local_path
from pesbench.schemas.comparison import material_comparison_id, structure_comparison_id
from pesbench.settings import PesbenchSettings
from pesbench.stores import get_job_store
from pesbench.stores.collections import COMPARISONS, PREDICTIONS, REFERENCES, STRUCTURES
from pesbench.stores.connection import open_collection
from pesbench.structures import generate
from pesbench.testing.emt import EmtEngine

DOC = Path(__file__).parents[2] / "docs" / "flows.md"
EMT_ENGINE = "pesbench.testing.emt:EmtEngine"
EMT_MODEL = "ase:ase.calculators.emt.EMT"


def _blocks(heading: str) -> list[str]:
    """The code blocks of the page's section ``heading``, in order."""
    section = DOC.read_text().split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def _docs(collection: str, settings: PesbenchSettings, **criteria: Any) -> list[dict[str, Any]]:
    with open_collection(collection, settings) as coll:
        return list(coll.find(criteria, {"_id": 0}))


def test_the_documented_flow_reaches_comparisons(
    db_settings: PesbenchSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build, run = _blocks("The example")
    monkeypatch.chdir(tmp_path)  # run_locally's folders
    started: dict[tuple[str, str], tuple[Path | None, str]] = {}  # what each DFT run began from
    compute = EmtEngine.compute

    def recording(
        self: EmtEngine, structure: Any, functional: str, run_dir: Path, **kw: Any
    ) -> Any:
        doc = compute(self, structure, functional, run_dir, **kw)
        started[doc.structure_id, functional] = (kw.get("prev_dir"), str(doc.run_dir))
        return doc

    monkeypatch.setattr(EmtEngine, "compute", recording)
    namespace: dict[str, Any] = {}
    exec(compile(build, f"{DOC}: build", "exec"), namespace)
    flow = namespace["flow"]
    flow.update_maker_kwargs({"engine": EMT_ENGINE}, class_filter=ReferenceMaker)
    flow.update_maker_kwargs({"model": EMT_MODEL}, class_filter=PredictMaker)
    exec(compile(run, f"{DOC}: run", "exec"), namespace)

    # what the inputs imply: the generator's structures, from the example's own bulk
    made = namespace["generate"]
    expected = generate(namespace["bulk"], made.maker.category, made.maker.parameters)
    ids = set(expected.structure_ids)
    assert len(ids) >= 3

    structures = _docs(STRUCTURES, db_settings)
    assert sorted(d["structure_id"] for d in structures) == sorted(ids)
    assert {d["source"] for d in structures} == {"Cu fcc"}

    refs = _docs(REFERENCES, db_settings)
    assert len(refs) == 2 * len(ids)
    assert {(d["structure_id"], d["functional"]) for d in refs} == {
        (sid, functional) for sid in ids for functional in ("PBE", "r2SCAN")
    }
    assert {(d["status"], d["code"]) for d in refs} == {("success", "emt-fake")}
    for sid in ids:  # each r2SCAN run started from its structure's PBE run
        assert started[sid, "r2SCAN"][0] == local_path(started[sid, "PBE"][1])
    pbe = {d["structure_id"]: d["reference_id"] for d in refs if d["functional"] == "PBE"}

    preds = _docs(PREDICTIONS, db_settings)
    assert sorted(d["structure_id"] for d in preds) == sorted(ids)
    assert {(d["status"], d["model"]["model_id"]) for d in preds} == {("success", EMT_MODEL)}

    # EMT is a PBE-trained model here: one comparison per structure, with its PBE reference
    pairs = {structure_comparison_id(d["prediction_id"], pbe[d["structure_id"]]) for d in preds}
    per_structure = _docs(COMPARISONS, db_settings, level="structure")
    assert {d["comparison_id"] for d in per_structure} == pairs
    (per_material,) = _docs(COMPARISONS, db_settings, level="material")
    assert per_material["comparison_id"] == material_comparison_id(
        expected.parent_id, "high_energy", EMT_MODEL, "PBE"
    )
    store = get_job_store(db_settings)
    store.connect()
    try:
        counts = store.get_output(namespace["compare"].uuid)
    finally:
        store.close()
    assert counts == {"structure": len(ids), "material": 1}


def test_the_documented_swaps_and_submission_do_what_they_say(
    db_settings: PesbenchSettings,
) -> None:
    """The page's other blocks, on the example's Flow: nothing runs, the LaunchPad is real."""
    build = _blocks("The example")[0]
    (swap,) = _blocks("Swapping a sub-maker")
    (submit,) = _blocks("With FireWorks")
    namespace: dict[str, Any] = {}
    for name, block in (("build", build), ("swap", swap), ("submit", submit)):
        exec(compile(block, f"{DOC}: {name}", "exec"), namespace)

    refs = namespace["references"].maker.reference_maker  # reached at every depth
    for maker in (refs.gga_maker, refs.r2scan_maker):
        assert (maker.engine, maker.overrides) == ("vasp", {"preset": "matpes"})
    assert namespace["predictions"].maker.model == "7net-0"
    assert namespace["maker"].reference_maker.gga_maker.functional == "PBE+U"

    with open_collection("fireworks", db_settings) as fireworks:
        categories = {fw["name"]: fw["spec"]["_category"] for fw in fireworks.find()}
    assert categories == {
        "generate high_energy": "dft",
        "references": "dft",
        "predict": "mlip",
        "compare": "dft",
    }
