"""The category-specific ``details`` of a :class:`~pesbench.schemas.structure.StructureDoc`.

One model per category, chosen by ``kind``. Lengths are in Å, areas in Å², fractional
coordinates are relative to the document's own lattice unless a field says otherwise.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from pesbench.schemas.base import StructureField

__all__ = [
    "DefectDetails",
    "HighEnergyDetails",
    "Matrix3",
    "MigrationDetails",
    "PhononDetails",
    "SolidSolutionDetails",
    "StructureDetails",
    "StructureField",
    "SurfaceDetails",
    "Vector3",
]


def _drop_monty_keys(value: Any) -> Any:
    """Accept the monty/jobflow serialised form: drop its ``@module``-style keys."""
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if not str(k).startswith("@")}
    return value


Vector3 = tuple[float, float, float]


Matrix3 = tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]]


class _Details(BaseModel):
    model_config = ConfigDict(extra="forbid")

    _monty = model_validator(mode="before")(_drop_monty_keys)


class SurfaceDetails(_Details):
    """A slab, or the bulk whose energy per atom its surface energy is referenced to.

    Surface energy: ``(E_slab - n_sites * E_bulk / n_bulk_sites) / (2 * area_A2)``.
    """

    kind: Literal["surface"] = Field(
        default="surface", description="Discriminator of the category."
    )
    miller_index: tuple[int, int, int] | None = Field(
        default=None,
        description="Miller index (hkl) of the surface, of the conventional bulk cell.",
    )
    termination_index: int | None = Field(
        default=None,
        description="Which termination of this Miller index (0-based, in shift order).",
    )
    shift: float | None = Field(
        default=None, description="pymatgen SlabGenerator shift of the termination (fractional c)."
    )
    slab_thickness_A: float | None = Field(
        default=None,
        description="Distance between the outermost atomic planes, along the normal (Å).",
    )
    vacuum_A: float | None = Field(
        default=None, description="Empty space between the slab and its periodic image (Å)."
    )
    area_A2: float | None = Field(
        default=None, description="Area of ONE surface of the slab cell (Å²); the slab has two."
    )
    bulk_reference_id: str = Field(
        description="structure_id of the bulk reference structure in the same set."
    )
    oriented_bulk: StructureField | None = Field(
        default=None,
        description="Slabs: the bulk in the slab's orientation, with the slab's in-plane "
        "lattice (pymatgen's oriented unit cell), so that a k-mesh by density is the same "
        "in plane for both: the matched bulk reference of the surface energy.",
    )


class DefectDetails(_Details):
    """A point defect in a supercell, or the pristine supercell it is referenced to.

    Formation energy: ``E_defect - E_pristine - sum_i n_i mu_i`` with ``n_i`` +1 for each
    species added and -1 for each removed, the ``mu_i`` from the reference phases listed.
    """

    kind: Literal["defect"] = Field(default="defect", description="Discriminator of the category.")
    defect_type: Literal["pristine", "vacancy", "interstitial", "antisite"] = Field(
        description="Kind of point defect (pristine: the defect-free supercell)."
    )
    removed_species: str | None = Field(
        default=None, description="Element removed from the site (vacancy, antisite), else None."
    )
    added_species: str | None = Field(
        default=None, description="Element put on the site (interstitial, antisite), else None."
    )
    defect_frac_coords: Vector3 | None = Field(
        default=None, description="Fractional coordinates of the defect site in the supercell."
    )
    site_index: int | None = Field(
        default=None,
        description="Index of the defect's atom in this structure (None for vacancies).",
    )
    bulk_site_index: int | None = Field(
        default=None,
        description="Index, in the defect base cell, of the symmetry-distinct site "
        "(vacancies and antisites); None for interstitials.",
    )
    multiplicity: int | None = Field(
        default=None, description="Number of sites of this symmetry class per defect base cell."
    )
    wyckoff: str | None = Field(default=None, description="Wyckoff label of the site, when known.")
    supercell_matrix: Matrix3 = Field(
        description="Integer matrix taking the defect base cell to this supercell."
    )
    pristine_id: str = Field(description="structure_id of the pristine supercell of the set.")
    chemical_potential_references: list[str] = Field(
        default_factory=list,
        description="Reference phases whose chemical potentials enter the formation energy: "
        "the elemental phase of each species added or removed ('Li', 'O2', ...).",
    )


class SolidSolutionDetails(_Details):
    """One substitutional ordering on a sublattice of a fixed supercell, or an end member.

    End members (role ``end_member``) are the same supercell unsubstituted (fraction 0) and
    fully substituted (fraction 1), the references of the mixing energy.
    """

    kind: Literal["solid_solution"] = Field(
        default="solid_solution", description="Discriminator of the category."
    )
    sublattice_species: str = Field(description="Element whose sites are substituted.")
    substituent: str = Field(description="Element put on the substituted sites.")
    n_sublattice_sites: int = Field(description="Number of sublattice sites in the supercell.")
    n_substituted: int = Field(description="Number of sublattice sites substituted.")
    fraction: float = Field(description="n_substituted / n_sublattice_sites (dimensionless).")
    ordering_index: int = Field(description="Index of this ordering at its composition (0-based).")
    substituted_site_indices: list[int] = Field(
        description="Indices, in the unsubstituted supercell, of the substituted sites."
    )
    n_distinct_found: int = Field(
        description="Orderings at this composition distinct under the supercell's own "
        "operations (before the StructureMatcher screen and the max_per_composition cap)."
    )
    enumeration: Literal["exhaustive", "sampled"] = Field(
        description="Whether all site combinations were tried or a random sample of them."
    )
    supercell_matrix: Matrix3 = Field(
        description="Integer matrix taking the conventional bulk cell to this supercell."
    )


class MigrationDetails(_Details):
    """One image of a vacancy-mediated hop of the mobile ion (lattice fixed)."""

    kind: Literal["migration"] = Field(
        default="migration", description="Discriminator of the category."
    )
    ion: str = Field(description="Element of the moving ion.")
    hop_index: int = Field(description="Index of the symmetry-distinct hop (0-based).")
    image_index: int = Field(
        description="0 and n_images+1 are the endpoints; 1..n_images the images between."
    )
    n_images: int = Field(description="Number of images between the two endpoints.")
    hop_distance_A: float = Field(description="Straight-line length of the hop (Å).")
    moving_site_index: int = Field(description="Index of the moving ion in this structure.")
    start_frac_coords: Vector3 = Field(
        description="Fractional coordinates of the moving ion at image 0 (supercell)."
    )
    end_frac_coords: Vector3 = Field(
        description="Fractional coordinates of the moving ion at the last image (supercell), "
        "unwrapped: end - start is the hop vector."
    )
    interpolation: Literal["linear", "idpp"] = Field(
        description="How the images were placed between the endpoints."
    )
    supercell_matrix: Matrix3 = Field(description="Integer matrix from the bulk to the supercell.")


class PhononDetails(_Details):
    """A phonopy finite-displacement supercell, with what rebuilds the force constants.

    ``phonopy.Phonopy(unitcell, supercell_matrix, primitive_matrix)`` with ``dataset`` set
    regenerates every displaced supercell, and takes their forces in ``displacement_index``
    order (see :func:`pesbench.structures.phonon.rebuild_phonopy`).
    """

    kind: Literal["phonon"] = Field(default="phonon", description="Discriminator of the category.")
    displacement_index: int | None = Field(
        default=None, description="Index into dataset['first_atoms'] (None: the perfect supercell)."
    )
    displaced_atom_index: int | None = Field(
        default=None, description="Index of the displaced atom in the supercell."
    )
    displacement_A: Vector3 | None = Field(
        default=None, description="Cartesian displacement of that atom (Å)."
    )
    distance_A: float = Field(description="Displacement amplitude asked of phonopy (Å).")
    unitcell: StructureField = Field(description="The unit cell given to phonopy.")
    supercell_matrix: Matrix3 = Field(description="phonopy supercell matrix (integers).")
    primitive_matrix: tuple[Vector3, Vector3, Vector3] = Field(
        description="phonopy primitive matrix, relative to the unit cell (dimensionless)."
    )
    symprec: float = Field(description="phonopy symmetry tolerance (Å).")
    dataset: dict[str, Any] = Field(
        description="phonopy displacement dataset (natom, first_atoms: number, displacement)."
    )
    perfect_supercell_id: str = Field(description="structure_id of the undisplaced supercell.")


class HighEnergyDetails(_Details):
    """A rattled, strained or MD-sampled structure far from equilibrium."""

    kind: Literal["high_energy"] = Field(default="high_energy", description="Discriminator.")
    mode: Literal["rattled", "strained", "md_snapshot"] = Field(
        description="How the structure was taken away from equilibrium."
    )
    sample_index: int = Field(description="Index of the sample within its mode (0-based).")
    sigma_A: float | None = Field(
        default=None,
        description="Standard deviation of the Gaussian displacements (Å), rattled only.",
    )
    strain: Vector3 | None = Field(
        default=None,
        description="Fractional change of the lengths of lattice vectors a, b, c "
        "(0.03 = +3 %), strained only.",
    )
    temperature_K: float | None = Field(default=None, description="MD temperature (K), MD only.")
    md_step: int | None = Field(default=None, description="MD step of the snapshot, MD only.")
    timestep_fs: float | None = Field(default=None, description="MD time step (fs), MD only.")
    md_model: str | None = Field(default=None, description="Potential that drove the MD, MD only.")
    supercell_matrix: Matrix3 = Field(description="Integer matrix from the bulk to this cell.")


StructureDetails = Annotated[
    SurfaceDetails
    | DefectDetails
    | SolidSolutionDetails
    | MigrationDetails
    | PhononDetails
    | HighEnergyDetails,
    Field(discriminator="kind"),
]
