"""Relaxed properties of models against DFT: pairs, errors, and the softening signature.

Each side computes its properties from its own relaxed geometries
(:mod:`pesbench.properties`); here a model's value meets the DFT value of the same
instance (category, material, property name, label; and the same given bulk when the
records name it) computed at the model's training functional: a GGA model pairs with
PBE and PBE+U DFT, an r2SCAN model with r2SCAN (the comparisons' native pairs,
:func:`~pesbench.schemas.comparison.is_native_pair`).

- :func:`pair_properties`: the native pairs of model and DFT values.
- :func:`property_error_rows`: one row per pair: both values, the error (model - DFT), the
  relative error (error / |DFT|), and for ``phonon_frequencies`` the MAE and the
  through-origin slope of model against DFT frequencies over the whole mesh (the paper's
  phonon softening).
- :func:`property_error_summary`: per (category, property, model): n, MAE, mean relative
  error, the through-origin slope of model against DFT values, and the fraction
  underpredicted, the paper's signature of softening.
- :func:`property_parity_figure`: model against DFT values, one panel per property.

A value is *underpredicted* when the model's is below the DFT one; for phonon
frequencies, when the slope over the mesh is below 1 (the model's spectrum is soft).
Records are :class:`~pesbench.schemas.property.PropertyDoc` or plain mappings with its
field names.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from pesbench.analysis.metrics import mae
from pesbench.analysis.softening import softening_scale
from pesbench.schemas.comparison import is_native_pair

__all__ = [
    "PHONON_FREQUENCIES",
    "ROW_COLUMNS",
    "SUMMARY_COLUMNS",
    "PropertyPair",
    "PropertyValue",
    "pair_properties",
    "property_error_rows",
    "property_error_summary",
    "property_parity_figure",
    "underpredicted_by_model",
]

PHONON_FREQUENCIES = "phonon_frequencies"
"""The array-valued property: ``values`` over the mesh, ``value`` its maximum."""

ROW_COLUMNS = [
    "category", "material", "name", "label", "unit", "functional", "dft_side", "model",
    "model_functional", "dft_value", "model_value", "error", "relative_error", "n",
    "underpredicted", "frequency_mae", "frequency_slope", "bulk_id",
]  # fmt: skip
"""Columns of :func:`property_error_rows`."""

SUMMARY_COLUMNS = [
    "category", "name", "unit", "model", "dft_sides", "n", "mae", "mean_relative_error",
    "slope", "fraction_underpredicted", "frequency_mae", "frequency_slope",
]  # fmt: skip
"""Columns of :func:`property_error_summary`."""

_MAX_POINTS = 20000
"""Points drawn per parity panel at most (a random subset beyond)."""


@dataclass(frozen=True)
class PropertyValue:
    """One side's value of one property instance (what pairing needs of a PropertyDoc)."""

    category: str
    material: str
    name: str
    label: str
    unit: str
    value: float | None
    values: tuple[float, ...] | None
    side: str
    side_kind: str
    functional: str | None
    bulk_id: str | None = None

    @classmethod
    def of(cls, record: Any) -> PropertyValue:
        """From a PropertyDoc, a PropertyValue, or a mapping with the same field names."""
        if isinstance(record, PropertyValue):
            return record

        def get(key: str) -> Any:
            if isinstance(record, Mapping):
                return record.get(key)
            return getattr(record, key, None)

        values = get("values")
        value = get("value")
        return cls(
            category=str(get("category")),
            material=str(get("material")),
            name=str(get("name")),
            label=str(get("label")),
            unit=str(get("unit") or ""),
            value=None if value is None else float(value),
            values=None if values is None else tuple(float(v) for v in values),
            side=str(get("side")),
            side_kind=str(get("side_kind") or ""),
            functional=get("functional"),
            bulk_id=get("bulk_id"),
        )

    @property
    def instance(self) -> tuple[str, str, str, str, str | None]:
        """(category, material, name, label, bulk_id): what a DFT and a model value share."""
        return (self.category, self.material, self.name, self.label, self.bulk_id)

    @property
    def usable(self) -> bool:
        """Whether it has a value to compare."""
        return self.value is not None and np.isfinite(self.value)


@dataclass(frozen=True)
class PropertyPair:
    """A model's value and the DFT value it is compared with."""

    dft: PropertyValue
    model: PropertyValue


def _by_side(records: Iterable[Any]) -> dict[tuple[Any, ...], PropertyValue]:
    """The usable values, one per (instance, side): the later of two equal keys wins."""
    kept: dict[tuple[Any, ...], PropertyValue] = {}
    for record in records:
        value = PropertyValue.of(record)
        if value.usable:
            kept[(*value.instance, value.side)] = value
    return kept


def pair_properties(dft: Iterable[Any], models: Iterable[Any]) -> list[PropertyPair]:
    """Every model value with each DFT value of its instance at its training functional.

    Parameters
    ----------
    dft, models
        PropertyDocs (or mappings) of the DFT sides and of the model sides. Values that
        are missing or not finite are left out; of two records of the same instance and
        side the later is kept.

    Returns
    -------
    list of PropertyPair
        Sorted by instance, model and DFT side.
    """
    references: dict[tuple[Any, ...], list[PropertyValue]] = defaultdict(list)
    for ref in _by_side(dft).values():
        references[ref.instance].append(ref)
    pairs = [
        PropertyPair(ref, model)
        for model in _by_side(models).values()
        for ref in references.get(model.instance, [])
        if model.functional and ref.functional and is_native_pair(model.functional, ref.functional)
    ]
    return sorted(pairs, key=lambda p: (*map(str, p.model.instance), p.model.side, p.dft.side))


def _row(pair: PropertyPair) -> dict[str, Any]:
    ref, model = pair.dft, pair.model
    assert ref.value is not None
    assert model.value is not None
    error = model.value - ref.value
    row: dict[str, Any] = {
        "category": ref.category,
        "material": ref.material,
        "name": ref.name,
        "label": ref.label,
        "unit": ref.unit,
        "functional": ref.functional,
        "dft_side": ref.side,
        "model": model.side,
        "model_functional": model.functional,
        "dft_value": ref.value,
        "model_value": model.value,
        "error": error,
        "relative_error": error / abs(ref.value) if ref.value else float("nan"),
        "n": 1,
        "underpredicted": model.value < ref.value,
        "frequency_mae": float("nan"),
        "frequency_slope": float("nan"),
        "bulk_id": ref.bulk_id,
    }
    if ref.name == PHONON_FREQUENCIES and _same_mesh(ref, model):
        assert ref.values is not None
        assert model.values is not None
        slope = _slope(ref.values, model.values)
        row |= {
            "n": len(ref.values),
            "frequency_mae": mae(ref.values, model.values),
            "frequency_slope": slope,
            "underpredicted": bool(slope < 1.0),
        }
    return row


def _same_mesh(ref: PropertyValue, model: PropertyValue) -> bool:
    """Whether both sides have frequencies of the same number of modes."""
    return bool(ref.values and model.values and len(ref.values) == len(model.values))


def _slope(reference: Sequence[float], model: Sequence[float]) -> float:
    """Through-origin slope of model against reference, NaN when undefined."""
    try:
        return softening_scale(reference, model)
    except ValueError:
        return float("nan")


def property_error_rows(pairs: Iterable[PropertyPair]) -> pd.DataFrame:
    """One row per pair (columns :data:`ROW_COLUMNS`).

    ``error`` is model - DFT in the property's unit, ``relative_error`` the error over
    |DFT| (NaN for a zero DFT value), ``n`` the number of values compared (1; phonons:
    the frequencies over the mesh). Phonon rows also have ``frequency_mae`` (THz) and
    ``frequency_slope`` over the mesh; their ``dft_value`` and ``model_value`` are the
    largest frequencies.
    """
    return pd.DataFrame([_row(p) for p in pairs], columns=ROW_COLUMNS)


def property_error_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (category, property, model): columns :data:`SUMMARY_COLUMNS`.

    ``n`` counts pairs; ``mae`` and ``mean_relative_error`` (signed: < 0 is a model
    below DFT on average) are over them; ``slope`` is the through-origin least-squares
    slope of model against DFT values; ``fraction_underpredicted`` the share of pairs
    underpredicted. ``frequency_mae`` and ``frequency_slope`` are the mean of the phonon
    rows' (NaN for other properties). ``dft_sides`` lists the DFT sides paired.
    """
    out = []
    keys = ["category", "name", "unit", "model"]
    for (category, name, unit, model), group in rows.groupby(keys, sort=True):
        phonon = group["frequency_slope"].notna()
        out.append(
            {
                "category": category,
                "name": name,
                "unit": unit,
                "model": model,
                "dft_sides": ", ".join(sorted(set(group["dft_side"]))),
                "n": len(group),
                "mae": float(group["error"].abs().mean()),
                "mean_relative_error": _mean(group["relative_error"]),
                "slope": _slope(list(group["dft_value"]), list(group["model_value"])),
                "fraction_underpredicted": float(group["underpredicted"].astype(bool).mean()),
                "frequency_mae": _mean(group.loc[phonon, "frequency_mae"]),
                "frequency_slope": _mean(group.loc[phonon, "frequency_slope"]),
            }
        )
    return pd.DataFrame(out, columns=SUMMARY_COLUMNS)


def _mean(series: pd.Series) -> float:
    values = series.to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")


def underpredicted_by_model(rows: pd.DataFrame) -> pd.DataFrame:
    """Per model, over every property pair: ``n``, ``n_underpredicted``, the fraction."""
    out = [
        {
            "model": model,
            "n": len(group),
            "n_underpredicted": int(group["underpredicted"].astype(bool).sum()),
            "fraction_underpredicted": float(group["underpredicted"].astype(bool).mean()),
        }
        for model, group in rows.groupby("model", sort=True)
    ]
    return pd.DataFrame(out, columns=["model", "n", "n_underpredicted", "fraction_underpredicted"])


def _points(pair: PropertyPair) -> tuple[np.ndarray, np.ndarray]:
    ref, model = pair.dft, pair.model
    if _same_mesh(ref, model):
        return np.asarray(ref.values), np.asarray(model.values)
    return np.asarray([ref.value], dtype=float), np.asarray([model.value], dtype=float)


def property_parity_figure(pairs: Sequence[PropertyPair]) -> Figure:
    """Model against DFT values: one panel per property name, one colour per model.

    Phonon panels draw every frequency of the mesh; the others one point per pair. Each
    panel has ``y = x`` and its title the number of pairs the models underpredict.
    """
    names = sorted({p.dft.name for p in pairs})
    models = sorted({p.model.side for p in pairs})
    fig = Figure(figsize=(4.0 * max(len(names), 1), 4.0), layout="constrained")
    axes = fig.subplots(1, max(len(names), 1), squeeze=False)[0]
    rng = np.random.default_rng(0)
    for ax, name in zip(axes, names, strict=False):
        chosen = [p for p in pairs if p.dft.name == name]
        lo, hi = np.inf, -np.inf
        for k, model in enumerate(models):
            mine = [_points(p) for p in chosen if p.model.side == model]
            if not mine:
                continue
            x = np.concatenate([m[0] for m in mine])
            y = np.concatenate([m[1] for m in mine])
            lo, hi = min(lo, x.min(), y.min()), max(hi, x.max(), y.max())
            if x.size > _MAX_POINTS:
                keep = rng.choice(x.size, _MAX_POINTS, replace=False)
                x, y = x[keep], y[keep]
            ax.scatter(x, y, s=24 if len(mine) == x.size else 4, alpha=0.7, color=f"C{k}",
                       edgecolors="none", label=model)  # fmt: skip
        pad = 0.05 * (hi - lo or 1.0)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.5", lw=1, label="y = x")
        rows = [_row(p) for p in chosen]
        under = sum(bool(r["underpredicted"]) for r in rows)
        unit = chosen[0].dft.unit
        ax.set_title(f"{name}\nunderpredicted {under}/{len(rows)}", fontsize=9)
        ax.set_xlabel(f"DFT ({unit})")
        ax.set_ylabel(f"model ({unit})")
        ax.set_aspect("equal", adjustable="datalim")
        ax.legend(fontsize=8, loc="upper left")
    return fig
