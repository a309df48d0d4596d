from __future__ import annotations

import os
from pathlib import Path

import pytest
from jobflow import Flow, run_locally
from pymatgen.core import Lattice, Structure
from pymatgen.io.vasp import Poscar
from vasp_data import vasp_reference

from pesbench.makers.compare import CompareMaker
from pesbench.makers.reference import (
    ReferenceFlowMaker,
    ReferenceMaker,
    ReferenceSetMaker,
    gga_then_r2scan,
    local_path,
)
from pesbench.schemas.ids import structure_id
from pesbench.schemas.reference import ReferenceDoc
from pesbench.settings import PesbenchSettings
from pesbench.stores import get_job_store
from pesbench.stores.references import ReferenceStore
from pesbench.testing import VaspReference, mock_vasp


def test_local_path_strips_the_host() -> None:
    assert local_path("node12:/scratch/run") == Path("/scratch/run")
    assert local_path("/scratch/run") == Path("/scratch/run")


def test_maker_fields_all_default() -> None:
    maker = ReferenceMaker()
    assert maker.functional == "PBE"
    assert maker.engine is None
    assert maker.name == "reference PBE"


def _copper() -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.61), ["Cu"], [[0, 0, 0]])


def test_reference_flow_maker_starts_r2scan_from_the_first_gga_run() -> None:
    maker = ReferenceFlowMaker(gga_maker=ReferenceMaker(engine="vasp"))
    flow = maker.make(_copper(), ["r2SCAN", "PBE+U", "PBE"], campaign="c")
    names = [job.name for job in flow.jobs]
    assert names == ["reference PBE+U", "reference PBE", "reference r2SCAN"]  # GGA first
    assert [job.maker.engine for job in flow.jobs] == ["vasp", "vasp", None]
    first, _, r2scan = flow.jobs
    prev = r2scan.function_kwargs["prev_dir"]
    assert (prev.uuid, prev.attributes) == (first.uuid, (("a", "run_dir"),))
    assert first.function_kwargs["prev_dir"] is None
    assert all(job.function_kwargs["campaign"] == "c" for job in flow.jobs)
    (alone,) = maker.make(_copper(), ["r2SCAN"]).jobs  # no GGA run: from scratch
    assert alone.function_kwargs["prev_dir"] is None


def test_gga_then_r2scan_delegates_to_the_flow_maker() -> None:
    flow = gga_then_r2scan(_copper(), gga=ReferenceMaker(functional="PBE+U", engine="vasp"))
    gga, r2scan = flow.jobs
    assert (gga.maker.functional, r2scan.maker.functional) == ("PBE+U", "r2SCAN")
    assert r2scan.maker.engine == "vasp"  # the GGA maker's engine
    assert r2scan.function_kwargs["prev_dir"].uuid == gga.uuid
    assert flow.name == "GGA then r2SCAN"


def test_reference_set_makes_one_flow_per_structure_from_its_sub_makers() -> None:
    maker = ReferenceSetMaker().update_kwargs({"engine": "vasp"}, class_filter=ReferenceMaker)
    assert maker.reference_maker.gga_maker.engine == maker.reference_maker.r2scan_maker.engine
    assert maker.reference_maker.r2scan_maker.engine == "vasp"  # update_kwargs reached both
    cells = [_copper(), _copper().scale_lattice(48.0)]
    response = maker.make.original(maker, structures=cells, campaign="c")  # the job's body
    flows = response.replace.jobs
    assert len(flows) == 2  # one GGA -> r2SCAN flow per structure, named by its id
    for flow, cell in zip(flows, cells, strict=True):
        gga, r2scan = flow.jobs
        sid = structure_id(cell)
        assert [gga.name, r2scan.name] == [f"reference PBE {sid}", f"reference r2SCAN {sid}"]
        assert gga.maker.engine == r2scan.maker.engine == "vasp"
        assert r2scan.function_kwargs["prev_dir"].uuid == gga.uuid
        assert r2scan.function_kwargs["campaign"] == "c"
    # its output becomes theirs: per structure, the list of its reference outputs
    assert [[ref.uuid for ref in out] for out in response.replace.output] == [
        [job.uuid for job in flow.jobs] for flow in flows
    ]
    assert maker.make.original(maker, structures=[]).output == []
    with pytest.raises(ValueError, match="give structures, structure_ids, or both"):
        maker.make.original(maker)


def test_gga_then_r2scan_on_si2_lands_two_references_in_mongodb(
    db_settings: PesbenchSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = vasp_reference()
    pbe, r2scan = ref / "atomate2_Si_matpes_pbe_static", ref / "atomate2_Si_matpes_r2scan_static"
    structure = Poscar.from_file(str(pbe / "inputs" / "POSCAR.gz")).structure
    monkeypatch.chdir(tmp_path)
    flow = gga_then_r2scan(
        structure,
        gga=ReferenceMaker(functional="PBE", engine="vasp"),
        r2scan=ReferenceMaker(functional="r2SCAN", engine="vasp"),
        campaign="si-pair",
    )
    store = get_job_store(db_settings)
    references = {
        "reference PBE": pbe,
        # the fake run fails unless the r2SCAN folder holds the GGA run's WAVECAR
        "reference r2SCAN": VaspReference(r2scan, require_wavecar=True),
    }
    compare = CompareMaker().make(references=flow.output)  # stores what landed, again
    with mock_vasp(references) as fake:
        responses = run_locally(Flow([flow, compare]), store=store, log=False, ensure_success=True)
    assert [key for key, _ in fake.calls] == ["reference PBE", "reference r2SCAN"]

    # custodian ran both: its custodian.json is in each run folder
    gga_dir, r2_dir = (run_dir for _, run_dir in fake.calls)
    assert (gga_dir / "custodian.json").is_file()
    assert (r2_dir / "custodian.json").is_file()
    # the fake checked the written inputs against the reference inputs/ (LWAVE=True for the
    # GGA, no ISTART for r2SCAN) and that the GGA WAVECAR was in the r2SCAN folder
    assert (r2_dir / "INCAR.orig").is_file()  # custodian's backup of the inputs

    docs = [ReferenceDoc.model_validate(responses[job.uuid][1].output) for job in flow.jobs]
    gga, meta = docs
    assert (gga.functional, meta.functional) == ("PBE", "r2SCAN")
    assert gga.energy == pytest.approx(-10.84940729, abs=1e-6)
    assert meta.energy == pytest.approx(-17.53895667, abs=1e-6)
    assert meta.parent_reference_id == gga.reference_id
    assert gga.structure_id == meta.structure_id
    assert gga.campaign == "si-pair"

    # in MongoDB: the JobStore holds both outputs; the references collection both docs
    store.connect()
    try:
        stored = [store.get_output(job.uuid) for job in flow.jobs]
    finally:
        store.close()
    assert [s["functional"] for s in stored] == ["PBE", "r2SCAN"]
    with ReferenceStore(db_settings) as refs:
        # each job stored its document as it landed; the compare job's store was a no-op
        assert refs.count() == 2
        back = {d.functional: d for d in refs.query({"structure_id": gga.structure_id})}
    assert back["r2SCAN"].parent_reference_id == back["PBE"].reference_id
    assert os.path.samefile(local_path(back["PBE"].run_dir or ""), gga_dir)


def test_r2scan_without_the_gga_run_fails_the_wavecar_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = vasp_reference()
    r2scan = ref / "atomate2_Si_matpes_r2scan_static"
    structure = Poscar.from_file(str(r2scan / "inputs" / "POSCAR.gz")).structure
    monkeypatch.chdir(tmp_path)
    with mock_vasp({"r2SCAN": VaspReference(r2scan, require_wavecar=True)}):
        job = ReferenceMaker(functional="r2SCAN", engine="vasp").make(structure)
        responses = run_locally(job, log=False)
    doc = ReferenceDoc.model_validate(responses[job.uuid][1].output)
    assert doc.status == "failed"
    assert "custodian stopped" in (doc.failure_reason or "")
    stderr = local_path(doc.run_dir or "") / "std_err.txt"
    assert "no WAVECAR" in stderr.read_text()
