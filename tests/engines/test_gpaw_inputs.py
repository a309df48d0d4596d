"""GPAW input generation: pure, no GPAW needed."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.io.vasp.sets import MPRelaxSet

from pesbench.engines.gpaw.inputs import (
    DEFAULT_ECUT_EV,
    DEFAULT_KSPACING,
    OPEN_SHELL_MAGMOM,
    gpaw_inputs,
    hubbard_u,
    initial_magmoms,
    kpoint_mesh,
    mp_magmoms,
)
from pesbench.schemas.reference import hash_inputs


def rocksalt(a: str, b: str, lattice: float) -> Structure:
    coords = [[0, 0, 0], [0.5, 0.5, 0.5]]
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(lattice), [a, b], coords)


@pytest.fixture
def si2() -> Structure:
    return Structure(Lattice.cubic(5.43), ["Si", "Si"], [[0, 0, 0], [0.25, 0.25, 0.25]])


def test_pbe_defaults(si2: Structure) -> None:
    inputs = gpaw_inputs(si2, "PBE")
    params = inputs["parameters"]
    assert params["mode"] == {"name": "pw", "ecut": DEFAULT_ECUT_EV}
    assert params["xc"] == "PBE"
    assert params["occupations"]["name"] == "fermi-dirac"
    assert 0 < params["occupations"]["width"] <= 0.1
    assert params["spinpol"] is False
    assert "setups" not in params
    assert inputs["magmoms"] is None
    # 2π/5.43 Å = 1.157 Å⁻¹ -> ceil(1.157 / 0.25) = 5 along each axis
    assert params["kpts"] == {"size": [5, 5, 5], "gamma": True}
    settings = inputs["input_settings"]
    assert settings["setups"] == {"Si": "paw"}
    assert settings["kspacing_invA"] == DEFAULT_KSPACING


def test_r2scan_uses_libxc_names(si2: Structure) -> None:
    params = gpaw_inputs(si2, "r2SCAN")["parameters"]
    assert params["xc"] == "MGGA_X_R2SCAN+MGGA_C_R2SCAN"


def test_kpoint_mesh_follows_the_reciprocal_lattice() -> None:
    slab = Structure(Lattice.tetragonal(4.0, 30.0), ["Mg"], [[0, 0, 0]])
    mesh = kpoint_mesh(slab, 0.25)
    assert mesh[0] == mesh[1] == int(np.ceil(2 * np.pi / 4.0 / 0.25))
    assert mesh[2] == 1  # vacuum direction
    assert kpoint_mesh(slab, 10.0) == [1, 1, 1]
    with pytest.raises(ValueError, match="positive"):
        kpoint_mesh(slab, 0.0)


def test_pbe_u_reads_mp_values_from_pymatgen() -> None:
    nio = rocksalt("Ni", "O", 4.17)
    expected = MPRelaxSet.CONFIG["INCAR"]["LDAUU"]["O"]["Ni"]
    assert hubbard_u(nio, "PBE+U") == {"Ni": expected}
    assert hubbard_u(nio, "PBE") == {}
    assert hubbard_u(nio, "r2SCAN") == {}
    inputs = gpaw_inputs(nio, "PBE+U")
    assert inputs["parameters"]["setups"] == {"Ni": f":d,{expected:g}"}
    assert inputs["parameters"]["xc"] == "PBE"
    assert inputs["input_settings"]["hubbard_u_eV"] == {"Ni": {"l": "d", "U": expected}}
    assert inputs["input_settings"]["setups"] == {"Ni": f"paw:d,{expected:g}", "O": "paw"}


def test_no_u_without_oxygen_or_fluorine() -> None:
    nis = rocksalt("Ni", "S", 5.2)
    assert hubbard_u(nis, "PBE+U") == {}
    assert "setups" not in gpaw_inputs(nis, "PBE+U")["parameters"]


def test_fluoride_uses_the_fluoride_table() -> None:
    fef = rocksalt("Fe", "F", 4.2)
    assert hubbard_u(fef, "PBE+U") == {"Fe": MPRelaxSet.CONFIG["INCAR"]["LDAUU"]["F"]["Fe"]}


def test_magnetic_elements_get_spin_and_mp_moments() -> None:
    nio = rocksalt("Ni", "O", 4.17)
    moments = MPRelaxSet.CONFIG["INCAR"]["MAGMOM"]
    assert initial_magmoms(nio) == [moments["Ni"]] * 4 + [0.0] * 4
    inputs = gpaw_inputs(nio, "PBE")
    assert inputs["parameters"]["spinpol"] is True
    assert inputs["magmoms"] == initial_magmoms(nio)
    assert mp_magmoms()["Gd"] == moments["Gd3+"]  # listed only as an ion


def test_magmom_site_property_wins() -> None:
    nio = rocksalt("Ni", "O", 4.17)
    nio.add_site_property("magmom", [2.0, -2.0, 2.0, -2.0, 0, 0, 0, 0])
    assert initial_magmoms(nio) == [2.0, -2.0, 2.0, -2.0] + [0.0] * 4


def test_overrides_win_and_change_the_hash(si2: Structure) -> None:
    base = gpaw_inputs(si2, "PBE")
    low = gpaw_inputs(si2, "PBE", {"ecut": 400, "kpts": [2, 2, 2], "smearing": 0.1})
    assert low["parameters"]["mode"]["ecut"] == 400
    assert low["parameters"]["kpts"]["size"] == [2, 2, 2]
    assert low["input_settings"]["kspacing_invA"] is None
    assert low["parameters"]["occupations"]["width"] == 0.1
    assert hash_inputs(low["input_settings"]) != hash_inputs(base["input_settings"])
    assert hash_inputs(gpaw_inputs(si2, "PBE")["input_settings"]) == hash_inputs(
        base["input_settings"]
    )
    spin = gpaw_inputs(si2, "PBE", {"spinpol": True})
    assert spin["magmoms"] == [0.0, 0.0]
    tight = gpaw_inputs(si2, "PBE", {"convergence": {"energy": 1e-8}})
    assert tight["parameters"]["convergence"]["energy"] == 1e-8
    assert (
        tight["parameters"]["convergence"]["density"]
        == base["parameters"]["convergence"]["density"]
    )


def test_bad_requests_raise(si2: Structure) -> None:
    with pytest.raises(ValueError, match="unknown GPAW override"):
        gpaw_inputs(si2, "PBE", {"encut": 500})
    with pytest.raises(ValueError, match="cannot run"):
        gpaw_inputs(si2, "SCAN")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="magmoms"):
        gpaw_inputs(si2, "PBE", {"magmoms": [1.0]})


def test_spin_polarized_starts_ferromagnetic_and_changes_the_hash() -> None:
    mgo = rocksalt("Mg", "O", 4.21)  # closed shell by its elements: no spin by default
    base = gpaw_inputs(mgo, "PBE")
    assert base["parameters"]["spinpol"] is False
    assert base["magmoms"] is None
    open_shell = gpaw_inputs(mgo, "PBE", {"spin_polarized": True})
    assert open_shell["parameters"]["spinpol"] is True
    assert open_shell["magmoms"] == [OPEN_SHELL_MAGMOM] * len(mgo)  # never a zero start
    assert open_shell["input_settings"]["magmoms"] == open_shell["magmoms"]
    assert hash_inputs(open_shell["input_settings"]) != hash_inputs(base["input_settings"])
    # magnetic elements keep MP's moments; the others start at OPEN_SHELL_MAGMOM
    nio = rocksalt("Ni", "O", 4.17)
    moments = gpaw_inputs(nio, "PBE", {"spin_polarized": True})["magmoms"]
    assert moments == [mp_magmoms()["Ni"]] * 4 + [OPEN_SHELL_MAGMOM] * 4
    # explicit moments still win; False is a closed-shell run
    mine = gpaw_inputs(mgo, "PBE", {"spin_polarized": True, "magmoms": [1.0] * 8})
    assert mine["magmoms"] == [1.0] * 8
    closed = gpaw_inputs(nio, "PBE", {"spin_polarized": False})
    assert closed["parameters"]["spinpol"] is False
    assert closed["magmoms"] is None
    with pytest.raises(ValueError, match="disagree"):
        gpaw_inputs(mgo, "PBE", {"spin_polarized": True, "spinpol": False})
