from __future__ import annotations

import pytest
from pymatgen.core import Lattice, Structure

from pesbench.analysis.category import Result, category_properties
from pesbench.schemas.ids import structure_id
from pesbench.schemas.structure import (
    DefectDetails,
    MigrationDetails,
    SolidSolutionDetails,
    StructureDoc,
)

EYE = ((1, 0, 0), (0, 1, 0), (0, 0, 1))
BULK = Structure(Lattice.cubic(4.2), ["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def _cell(x: float, species: tuple[str, ...]) -> Structure:
    coords = [[0, 0, 0], [0.5, 0.5, 0.5]][: len(species)]
    return Structure(Lattice.cubic(4.2 + x), list(species), coords)


def _doc(
    x: float, role: str, details: object, species: tuple[str, ...] = ("Mg", "O")
) -> StructureDoc:
    return StructureDoc.from_structure(
        _cell(x, species), category="migration", role=role, parent=BULK, generator="t",
        parameters={}, details=details,  # type: ignore[arg-type]
    )  # fmt: skip


def _mig(i: int, n_images: int = 3) -> MigrationDetails:
    return MigrationDetails(
        ion="Mg", hop_index=0, image_index=i, n_images=n_images, hop_distance_A=2.9,
        moving_site_index=0, start_frac_coords=(0, 0, 0), end_frac_coords=(0.5, 0.5, 0),
        interpolation="linear", supercell_matrix=EYE,
    )  # fmt: skip


def test_migration_barrier_from_images_in_any_order() -> None:
    docs = [_doc(0.01 * i, "image", _mig(i)) for i in (3, 0, 4, 1, 2)]
    energies = {0: -10.0, 1: -9.6, 2: -9.2, 3: -9.5, 4: -10.05}
    ref = {d.structure_id: Result(energies[d.details.image_index]) for d in docs}  # type: ignore[union-attr]
    model = {k: Result(0.5 * (v.energy + 10.0) - 10.0) for k, v in ref.items()}
    rows, notes = category_properties(docs, ref, model)
    (row,) = rows
    assert notes == []
    assert row.name == "migration_barrier"
    assert row.reference == pytest.approx(0.8)
    assert row.model == pytest.approx(0.4)
    assert row.ratio == pytest.approx(0.5)
    # one image without a result: a note, no row
    del model[docs[0].structure_id]
    rows, notes = category_properties(docs, ref, model)
    assert rows == []
    assert "hop 0" in notes[0]


def test_defect_with_and_without_chemical_potentials() -> None:
    pid = structure_id(_cell(0.0, ("Mg", "O")))
    pristine = _doc(
        0.0,
        "pristine",
        DefectDetails(defect_type="pristine", supercell_matrix=EYE, pristine_id=pid),
    )
    vac = _doc(0.1, "vacancy", DefectDetails(
        defect_type="vacancy", removed_species="O", supercell_matrix=EYE, pristine_id=pid,
        chemical_potential_references=["O2"]), ("Mg",))  # fmt: skip
    ref = {pid: Result(-12.0), vac.structure_id: Result(-5.0)}
    model = {pid: Result(-11.5), vac.structure_id: Result(-5.2)}
    rows, _ = category_properties([pristine, vac], ref, model)
    assert rows[0].name == "defect_energy_difference"
    assert rows[0].reference == pytest.approx(7.0)
    rows, _ = category_properties(
        [pristine, vac], ref, model, mu_reference={"O": -4.9}, mu_model={"O": -4.5}
    )
    assert rows[0].name == "defect_formation_energy"
    assert rows[0].reference == pytest.approx(7.0 - 4.9)
    assert rows[0].model == pytest.approx(6.3 - 4.5)


def _ss(n: int, idx: int = 0) -> SolidSolutionDetails:
    return SolidSolutionDetails(
        sublattice_species="Mg", substituent="Ca", n_sublattice_sites=4, n_substituted=n,
        fraction=n / 4, ordering_index=idx, substituted_site_indices=list(range(n)),
        n_distinct_found=1, enumeration="exhaustive", supercell_matrix=EYE,
    )  # fmt: skip


def test_mixing_energy_needs_both_end_members() -> None:
    docs = [_doc(0.01 * n, "ordering", _ss(n)) for n in (0, 2, 4)]
    per_atom = {0: -5.0, 2: -4.9, 4: -4.6}
    ref = {d.structure_id: Result(2 * per_atom[d.details.n_substituted]) for d in docs}  # type: ignore[union-attr]
    rows, notes = category_properties(docs, ref, ref)
    (row,) = rows
    assert row.reference == pytest.approx(-4.9 - (0.5 * -5.0 + 0.5 * -4.6))
    assert notes == []
    rows, notes = category_properties(docs[:2], ref, ref)
    assert rows == []
    assert "end members" in notes[0]
