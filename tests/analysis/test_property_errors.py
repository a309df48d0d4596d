"""Pairing of relaxed property values and their errors, on planted numbers."""

from __future__ import annotations

import numpy as np
import pytest

from pesbench.analysis.phonons import phonon_dos
from pesbench.analysis.plots import figure_png
from pesbench.analysis.property_errors import (
    ROW_COLUMNS,
    PropertyValue,
    pair_properties,
    property_error_rows,
    property_error_summary,
    property_parity_figure,
    underpredicted_by_model,
)
from pesbench.schemas.property import PropertyDoc


def _doc(side: str, functional: str, name: str, label: str, value, **extra) -> dict:
    kind = "dft" if "(" in side else "model"
    return {
        "category": extra.pop("category", "surface"),
        "material": extra.pop("material", "Cu"),
        "bulk_id": extra.pop("bulk_id", "Cu-abc"),
        "name": name,
        "label": label,
        "unit": extra.pop("unit", "J/m^2"),
        "value": value,
        "side": side,
        "side_kind": kind,
        "functional": functional,
        **extra,
    }


DFT = [
    _doc("PBE (gpaw)", "PBE", "surface_energy", "(1, 1, 1) t0", 1.5),
    _doc("PBE (gpaw)", "PBE", "surface_energy", "(1, 0, 0) t0", 2.0),
    _doc("r2SCAN (gpaw)", "r2SCAN", "surface_energy", "(1, 1, 1) t0", 1.8),
    _doc("PBE+U (vasp)", "PBE+U", "formation_energy", "V_O", 4.0, category="defect",
         material="MgO", bulk_id="MgO-1", unit="eV"),
    _doc("PBE (gpaw)", "PBE", "surface_energy", "(1, 1, 0) t0", None),  # failed: no value
]  # fmt: skip


def _models() -> list[dict]:
    return [
        _doc("chgnet-0.3.0", "PBE", "surface_energy", "(1, 1, 1) t0", 1.2),
        _doc("chgnet-0.3.0", "PBE", "surface_energy", "(1, 0, 0) t0", 2.2),
        _doc("chgnet-0.3.0", "PBE", "surface_energy", "(1, 1, 0) t0", 1.9),  # DFT failed
        _doc("chgnet-0.3.0", "PBE", "formation_energy", "V_O", 3.0, category="defect",
             material="MgO", bulk_id="MgO-1", unit="eV"),
        _doc("chgnet-r2scan", "r2SCAN", "surface_energy", "(1, 1, 1) t0", 0.9),
        _doc("chgnet-r2scan", "r2SCAN", "surface_energy", "(1, 1, 1) t0", 1.62),  # later wins
        # same label on another bulk of the same formula: no DFT value to pair with
        _doc("chgnet-0.3.0", "PBE", "surface_energy", "(1, 1, 1) t0", 9.9, bulk_id="Cu-xyz"),
    ]  # fmt: skip


def test_models_pair_with_dft_of_their_training_functional() -> None:
    pairs = pair_properties(DFT, _models())
    got = {(p.model.side, p.dft.side, p.model.label, p.model.name) for p in pairs}
    assert got == {
        ("chgnet-0.3.0", "PBE (gpaw)", "(1, 1, 1) t0", "surface_energy"),
        ("chgnet-0.3.0", "PBE (gpaw)", "(1, 0, 0) t0", "surface_energy"),
        ("chgnet-0.3.0", "PBE+U (vasp)", "V_O", "formation_energy"),  # GGA model: PBE+U too
        ("chgnet-r2scan", "r2SCAN (gpaw)", "(1, 1, 1) t0", "surface_energy"),
    }


def test_rows_errors_and_summary_from_planted_values() -> None:
    rows = property_error_rows(pair_properties(DFT, _models()))
    assert list(rows.columns) == ROW_COLUMNS
    by = {(r.model, r.label): r for r in rows.itertuples()}
    r111 = by[("chgnet-0.3.0", "(1, 1, 1) t0")]
    assert r111.error == pytest.approx(-0.3)
    assert r111.relative_error == pytest.approx(-0.2)
    assert r111.underpredicted
    assert r111.n == 1
    assert not by[("chgnet-0.3.0", "(1, 0, 0) t0")].underpredicted
    assert by[("chgnet-r2scan", "(1, 1, 1) t0")].relative_error == pytest.approx(-0.1)

    summary = property_error_summary(rows).set_index(["category", "name", "model"])
    surf = summary.loc[("surface", "surface_energy", "chgnet-0.3.0")]
    assert surf["n"] == 2
    assert surf["mae"] == pytest.approx(0.25)  # |−0.3| and |+0.2|
    assert surf["mean_relative_error"] == pytest.approx((-0.2 + 0.1) / 2)
    assert surf["fraction_underpredicted"] == pytest.approx(0.5)
    assert surf["slope"] == pytest.approx((1.5 * 1.2 + 2.0 * 2.2) / (1.5**2 + 2.0**2))
    assert surf["dft_sides"] == "PBE (gpaw)"
    defect = summary.loc[("defect", "formation_energy", "chgnet-0.3.0")]
    assert defect["fraction_underpredicted"] == 1.0
    assert defect["dft_sides"] == "PBE+U (vasp)"

    per_model = underpredicted_by_model(rows).set_index("model")
    assert per_model.loc["chgnet-0.3.0", "n"] == 3
    assert per_model.loc["chgnet-0.3.0", "fraction_underpredicted"] == pytest.approx(2 / 3)
    assert per_model.loc["chgnet-r2scan", "fraction_underpredicted"] == 1.0


def test_phonon_frequencies_compare_over_the_whole_mesh() -> None:
    ref = np.linspace(0.5, 8.0, 24)
    soft = np.sqrt(0.8) * ref  # a PES softened by 0.8 in energy
    dft = _doc("PBE (gpaw)", "PBE", "phonon_frequencies", "mesh 2x2x2", ref.max(),
               category="phonon", unit="THz", values=list(ref))  # fmt: skip
    model = _doc("m", "PBE", "phonon_frequencies", "mesh 2x2x2", soft.max(),
                 category="phonon", unit="THz", values=list(soft))  # fmt: skip
    rows = property_error_rows(pair_properties([dft], [model]))
    (row,) = rows.itertuples()
    assert row.n == 24
    assert row.frequency_slope == pytest.approx(np.sqrt(0.8))
    assert row.frequency_mae == pytest.approx(np.mean(ref - soft))
    assert row.model_value == pytest.approx(np.sqrt(0.8) * 8.0)
    assert row.underpredicted
    summary = property_error_summary(rows)
    assert summary["frequency_slope"].tolist() == pytest.approx([np.sqrt(0.8)])
    assert summary["fraction_underpredicted"].tolist() == [1.0]
    # a steeper model spectrum is not underpredicted even if some modes are lower
    stiff = 1.1 * ref - 0.3
    model["values"], model["value"] = list(stiff), stiff.max()
    (row,) = property_error_rows(pair_properties([dft], [model])).itertuples()
    assert row.frequency_slope > 1
    assert not row.underpredicted


def test_property_docs_are_records_too_and_the_figure_draws() -> None:
    common = {
        "property_set_id": "s", "category": "surface", "material": "Cu", "bulk_id": "Cu-abc",
        "name": "surface_energy", "label": "(1, 1, 1) t0", "unit": "J/m^2",
    }  # fmt: skip
    dft = PropertyDoc(property_id="d", value=1.5, side="PBE (emt)", side_kind="dft",
                      side_key="dft:emt", functional="PBE", **common)  # fmt: skip
    model = PropertyDoc(property_id="m", value=1.2, side="emt-0.8", side_kind="model",
                        side_key="model:emt", functional="PBE", **common)  # fmt: skip
    pairs = pair_properties([dft], [model])
    assert pairs[0].dft == PropertyValue.of(dft)
    png = figure_png(property_parity_figure(pairs))
    assert png.startswith(b"\x89PNG")
    assert property_error_rows([]).empty
    assert property_error_summary(property_error_rows([])).empty


def test_phonon_dos_is_normalised_and_sits_on_the_modes() -> None:
    grid = np.linspace(-1.0, 12.0, 2601)
    dos = phonon_dos([2.0, 5.0, 5.0, 9.0], grid, sigma=0.1)
    assert np.trapezoid(dos, grid) == pytest.approx(1.0, rel=1e-6)
    assert grid[np.argmax(dos)] == pytest.approx(5.0, abs=0.01)  # the doubly occupied mode
    with pytest.raises(ValueError, match="positive sigma"):
        phonon_dos([1.0], grid, sigma=0.0)
