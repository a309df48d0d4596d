"""High-energy states: rattled supercells, strained cells, snapshots of hot MD.

- ``rattled``: every atom of the supercell displaced by an independent Gaussian of standard
  deviation ``sigma`` (Å) per Cartesian direction, ``n_rattled`` samples per sigma.
- ``strained``: the bulk as given with one lattice vector (a, b, then c) or all three
  (volumetric) scaled by ``1 + strain``, fractional coordinates kept. Strained cells that are
  symmetry-equivalent to an earlier one (a cubic crystal strained along a or b) are skipped,
  with the reason, unless ``dedupe_strains`` is off.
- ``md_snapshot``: Langevin MD of the supercell at ``temperature_K`` (the paper: 1000 K),
  snapshots every ``md_interval`` steps after ``md_equilibration`` steps. The potential is
  any ASE calculator given to :func:`generate_high_energy`, or else the model named by
  ``md_model`` (CHGNet 0.3.0, whose weights ship with chgnet and load offline).

Random numbers come from ``numpy.random.default_rng(seed)`` only: the same seed gives the
same structures.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ase import units
from ase.calculators.calculator import Calculator
from ase.constraints import FixCom
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary, thermalize_momenta
from pydantic import Field
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from pesbench.schemas.structure import HighEnergyDetails, Matrix3
from pesbench.structures.common import (
    GeneratedStructure,
    Generation,
    GenerationParameterError,
    GeneratorParams,
    clean_structure,
    matrix3,
    standard_supercell,
)

__all__ = ["HighEnergyParams", "generate_high_energy", "md_calculator", "strain_lattice"]

_IDENTITY = ((1, 0, 0), (0, 1, 0), (0, 0, 1))


class HighEnergyParams(GeneratorParams):
    """Parameters of :func:`generate_high_energy`."""

    sigmas_A: list[float] = Field(
        default=[0.05, 0.1, 0.2], description="Standard deviations of the rattles (Å)."
    )
    n_rattled: int = Field(default=2, ge=0, description="Rattled samples per sigma.")
    strains: list[float] = Field(
        default=[-0.03, 0.03],
        description="Strains applied along each lattice vector and to all three.",
    )
    dedupe_strains: bool = Field(
        default=True, description="Skip symmetry-equivalent strained cells."
    )
    md_snapshots: int = Field(default=5, ge=0, description="MD snapshots kept (0: no MD).")
    md_interval: int = Field(default=50, ge=1, description="MD steps between snapshots.")
    md_equilibration: int = Field(
        default=100, ge=0, description="MD steps before the first snapshot."
    )
    temperature_K: float = Field(default=1000.0, gt=0, description="MD temperature (K).")
    timestep_fs: float = Field(default=1.0, gt=0, description="MD time step (fs).")
    friction_per_fs: float = Field(default=0.01, gt=0, description="Langevin friction (1/fs).")
    md_model: str = Field(
        default="chgnet-0.3.0", description="Potential of the MD when no calculator is given."
    )
    min_length_A: float = Field(
        default=8.0, gt=0, description="Smallest supercell vector length (Å)."
    )
    max_atoms: int = Field(default=128, ge=1, description="Largest supercell allowed (atoms).")
    symprec: float = Field(
        default=0.01, gt=0, description="spglib tolerance of the cell choice (Å)."
    )
    seed: int = Field(default=0, description="Random seed of the rattles and the MD.")


def md_calculator(name: str) -> Calculator:
    """The ASE calculator of a named uMLIP for the MD (only CHGNet versions: 'chgnet-0.3.0')."""
    family, _, version = name.partition("-")
    if family.lower() != "chgnet" or not version:
        raise GenerationParameterError(
            f"high_energy: md_model {name!r} is not known; use 'chgnet-<version>' "
            "(e.g. 'chgnet-0.3.0'), or pass an ASE calculator"
        )
    # chgnet imports torch (seconds): loaded only when an MD actually runs.
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    model = CHGNet.load(model_name=version, use_device="cpu", verbose=False)
    return CHGNetCalculator(model=model, use_device="cpu")


def strain_lattice(structure: Structure, strain: tuple[float, float, float]) -> Structure:
    """``structure`` with lattice vectors a, b, c scaled by ``1 + strain[i]``, fractions kept."""
    matrix = structure.lattice.matrix * (1.0 + np.asarray(strain))[:, None]
    return Structure(Lattice(matrix), structure.species, structure.frac_coords)


def _run_md(
    supercell: Structure,
    params: HighEnergyParams,
    calculator: Calculator,
    rng: np.random.Generator,
) -> list[tuple[int, Structure]]:
    atoms = AseAtomsAdaptor.get_atoms(supercell)
    atoms.calc = calculator
    atoms.set_constraint(FixCom())
    thermalize_momenta(atoms, temperature_K=params.temperature_K, rng=rng)
    Stationary(atoms)
    dyn = Langevin(
        atoms,
        timestep=params.timestep_fs * units.fs,
        temperature_K=params.temperature_K,
        friction=params.friction_per_fs / units.fs,
        fixcm=False,
        rng=rng,
    )
    snapshots = []
    step = 0
    if params.md_equilibration:
        dyn.run(params.md_equilibration)
        step += params.md_equilibration
    for _ in range(params.md_snapshots):
        dyn.run(params.md_interval)
        step += params.md_interval
        frame = Structure(
            supercell.lattice, supercell.species, atoms.get_scaled_positions(wrap=True)
        )
        snapshots.append((step, frame))
    return snapshots


def generate_high_energy(
    bulk: Structure,
    params: HighEnergyParams | None = None,
    calculator: Calculator | None = None,
) -> Generation:
    """Rattled, strained and MD-sampled structures of ``bulk``.

    Parameters
    ----------
    bulk
        Ordered bulk crystal.
    params
        See :class:`HighEnergyParams`.
    calculator
        ASE calculator for the MD; default: the model named by ``params.md_model``.

    Returns
    -------
    Generation
        Rattled, then strained, then MD snapshots.
    """
    params = params or HighEnergyParams()
    bulk = clean_structure(bulk)
    _, supercell, matrix = standard_supercell(
        bulk, params.min_length_A, params.max_atoms, params.symprec, what="high-energy supercell"
    )
    m3 = matrix3(matrix)
    rng = np.random.default_rng(params.seed)
    result = Generation()
    _rattled(result, supercell, params, rng, m3)
    _strained(result, bulk, params)
    if params.md_snapshots:
        _md_snapshots(result, supercell, params, rng, m3, calculator)
    return result


def _rattled(
    result: Generation,
    supercell: Structure,
    params: HighEnergyParams,
    rng: np.random.Generator,
    m3: Matrix3,
) -> None:
    """``n_rattled`` copies of the supercell at each of ``sigmas_A`` (Gaussian, Å)."""
    common: dict[str, Any] = {"supercell_matrix": m3}
    sample = 0
    for sigma in params.sigmas_A:
        for _ in range(params.n_rattled):
            cart = supercell.cart_coords + rng.normal(0.0, sigma, size=(len(supercell), 3))
            rattled = Structure(
                supercell.lattice, supercell.species, cart, coords_are_cartesian=True
            )
            details = HighEnergyDetails(
                mode="rattled", sample_index=sample, sigma_A=sigma, **common
            )
            result.structures.append(GeneratedStructure(rattled, "rattled", details))
            sample += 1


def _strained(result: Generation, bulk: Structure, params: HighEnergyParams) -> None:
    """The bulk strained along each axis and isotropically, symmetry twins skipped."""
    matcher = StructureMatcher(
        ltol=0.005, stol=0.01, angle_tol=0.2, scale=False, primitive_cell=False
    )
    strained_kept: list[Structure] = []
    sample = 0
    for value in params.strains:
        for axes in ((0,), (1,), (2,), (0, 1, 2)):
            strain = tuple(value if i in axes else 0.0 for i in range(3))
            cell = strain_lattice(bulk, strain)  # type: ignore[arg-type]
            if params.dedupe_strains:
                twin = next((i for i, s in enumerate(strained_kept) if matcher.fit(cell, s)), None)
                if twin is not None:
                    result.skip(f"strain {strain}", f"symmetry-equivalent to strained cell {twin}")
                    continue
            strained_kept.append(cell)
            details = HighEnergyDetails(
                mode="strained",
                sample_index=sample,
                strain=strain,  # type: ignore[arg-type]
                supercell_matrix=_IDENTITY,
            )
            result.structures.append(GeneratedStructure(cell, "strained", details))
            sample += 1


def _md_snapshots(
    result: Generation,
    supercell: Structure,
    params: HighEnergyParams,
    rng: np.random.Generator,
    m3: Matrix3,
    calculator: Calculator | None,
) -> None:
    """Snapshots of an MD run of the supercell (``calculator``, else ``params.md_model``)."""
    common: dict[str, Any] = {"supercell_matrix": m3}
    if calculator is None:
        calculator = md_calculator(params.md_model)
        model = params.md_model
    else:
        model = type(calculator).__name__
    for index, (step, frame) in enumerate(_run_md(supercell, params, calculator, rng)):
        details = HighEnergyDetails(
            mode="md_snapshot",
            sample_index=index,
            temperature_K=params.temperature_K,
            md_step=step,
            timestep_fs=params.timestep_fs,
            md_model=model,
            **common,
        )
        result.structures.append(GeneratedStructure(frame, "md_snapshot", details))
