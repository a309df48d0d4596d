"""Properties of one side (DFT or a uMLIP), each computed from that side's relaxed geometries.

:class:`PropertyDoc` is one value (a surface energy of one facet, a formation energy of one
defect, a barrier of one hop, the phonon frequencies on a mesh): every term it was computed
from is named (``terms``: role -> relaxation_id) and comes from the same side, so energy
conventions of different codes cancel. DFT and model values are compared per
``instance`` key (category, material, property name, label).

:class:`PropertySetDoc` is what one category's calculation on one side returns: the
relaxed bulk, every relaxation it used, the values, and what could not be computed with
why. ``pesbench property --json`` writes it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import Field

from pesbench.schemas.base import CampaignMember, PesbenchDoc
from pesbench.schemas.relaxation import RelaxationDoc, RelaxSettings, SideKind
from pesbench.schemas.structure import Category

__all__ = ["PropertyDoc", "PropertySetDoc", "property_set_id"]


def property_set_id(
    category: str, bulk_id: str, side_key: str, parameters: dict[str, Any], relax: RelaxSettings
) -> str:
    """Dedupe key of a category's property calculation on one side: sha256, 24 hex."""
    payload = json.dumps(
        [category, bulk_id, side_key, parameters, relax.model_dump(mode="json")],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


class _OneSide(PesbenchDoc, CampaignMember):
    """What a calculation and each of its values share: the bulk, the category, the side."""

    property_set_id: str = Field(description="property_set_id(...) of the calculation.")
    category: Category = Field(description="Out-of-distribution category.")
    material: str = Field(description="Reduced formula of the bulk.")
    bulk_id: str = Field(description="structure_id of the (unrelaxed) bulk given.")
    side: str = Field(description="Who computed: a model id, or 'PBE (gpaw)'-like.")
    side_kind: SideKind = Field(description="'dft' or 'model'.")
    side_key: str = Field(description="Identity of the side (code, functional, inputs).")
    functional: str | None = Field(None, description="DFT functional or training functional.")


class PropertyDoc(_OneSide):
    """One property value of one side, with the ids of every term it was computed from."""

    property_id: str = Field(description="property_set_id:name:label (set by its set).")
    name: str = Field(
        description="surface_energy, formation_energy, mixing_energy, migration_barrier, "
        "phonon_frequencies or excess_energy."
    )
    label: str = Field(description="Instance within the category, e.g. '(1, 1, 1) t0'.")
    unit: str = Field(description="Unit of value and values: J/m^2, eV, eV/f.u., THz, eV/atom.")
    value: float | None = Field(
        None, description="The value (phonons: the largest frequency on the mesh)."
    )
    values: list[float] | None = Field(
        None, description="Array-valued properties: phonon frequencies over the whole mesh."
    )
    terms: dict[str, str] = Field(
        default_factory=dict, description="Role of each term -> relaxation_id."
    )
    details: dict[str, Any] = Field(
        default_factory=dict, description="Term energies and what else defines the value."
    )

    @property
    def instance(self) -> tuple[str, str, str, str]:
        """(category, material, name, label): what a DFT and a model value share."""
        return (self.category, self.material, self.name, self.label)


class PropertySetDoc(_OneSide):
    """One category's properties of one bulk on one side, with every relaxation used."""

    parameters: dict[str, Any] = Field(
        default_factory=dict, description="The category generator's parameters."
    )
    relax: RelaxSettings = Field(description="Thresholds every relaxation of the set used.")
    properties: list[PropertyDoc] = Field(default_factory=list, description="The values.")
    relaxations: list[RelaxationDoc] = Field(
        default_factory=list, description="Every relaxation and single point used, bulk first."
    )
    notes: list[str] = Field(
        default_factory=list, description="What could not be computed, one line each, with why."
    )
    wall_time_s: float | None = Field(None, description="Wall time of the calculation, s.")
