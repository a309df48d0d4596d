"""Slow: a cheap part of the properties example on real codes, the Si vacancy.

GPAW PBE and CHGNet 0.3.0 each relax Si, build the 16-site supercell from their own
relaxed lattice, relax the vacancy in it, and compute the formation energy against their
own bulk (the element-rich limit for Si is the bulk itself). A cheap basis (300 eV, 2x2x2
k-points), so the number is not converged; the test checks the method runs end to end on
both sides and lands where the physics puts it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gpaw_engine import usable_gpaw

from pesbench.mlip.registry import load_model
from pesbench.properties import EngineSide, ModelSide, compute_properties
from pesbench.schemas.relaxation import RelaxSettings
from pesbench.settings import override_settings
from pesbench.structures.io import load_structure

SI = Path(__file__).parents[2] / "src/pesbench/workflows/quickstart/structures/Si.cif"
VACANCY = {"min_length_A": 6.0, "max_interstitial_sites": 0, "antisites": "none"}
THRESHOLDS = RelaxSettings(fmax=0.05, max_steps=60)


@pytest.mark.slow
def test_si_vacancy_formation_energy_gpaw_against_chgnet(tmp_path: Path) -> None:
    with override_settings(data_dir=tmp_path, device="cpu") as settings:
        engine = usable_gpaw(settings)
        dft = EngineSide(
            engine, "PBE", overrides={"ecut": 300, "kpts": [2, 2, 2]}, workdir=tmp_path
        )
        model = ModelSide(load_model("chgnet-0.3.0", device="cpu"))
        bulk = load_structure(SI)
        results = {
            side.kind: compute_properties(
                "defect", bulk, side, parameters=VACANCY, thresholds=THRESHOLDS
            )
            for side in (dft, model)
        }
    for result in results.values():
        assert result.notes == []
        (prop,) = result.properties
        assert prop.name == "formation_energy"
        assert prop.label.startswith("vacancy Si")
        assert result.relaxations[0].settings.relax_cell
        by_id = {r.relaxation_id: r for r in result.relaxations}
        defect = by_id[prop.terms["defect"]]
        assert defect.structure.num_sites == 15
        assert defect.converged
        assert prop.details["defect_energy_eV"] <= prop.details["unrelaxed_defect_energy_eV"]
    dft_value = results["dft"].properties[0].value
    model_value = results["model"].properties[0].value
    # PBE gives about 3.6 eV in large cells; a 16-site cell with a cheap basis: 2.5-4.5 eV
    assert 2.5 < dft_value < 4.5
    # CHGNet 0.3.0 gives 0.93 eV here: far below DFT, the softening the paper reports
    assert 0.3 < model_value < dft_value
