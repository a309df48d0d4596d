"""``pesbench finetune`` and ``pesbench fit-scale``: correct a model from stored references."""

from __future__ import annotations

import json
from typing import Annotated, get_args

import numpy as np
import typer
from rich.table import Table

from pesbench.cli.console import console
from pesbench.cli.db import check_database
from pesbench.errors import PesbenchError
from pesbench.makers.finetune import (
    FineTuneMaker,
    ScaleFitMaker,
    load_training_set,
    run_finetune,
    run_scale_fit,
)
from pesbench.schemas.base import Functional
from pesbench.schemas.correction import AtomRefMode, FineTuneDoc, Selection
from pesbench.settings import get_settings

__all__ = ["finetune", "fit_scale"]


_TUNE, _FIT = FineTuneMaker(), ScaleFitMaker()
"""The options' defaults: the Makers' fields, declared there only (``--help`` shows them)."""

_Functional = Annotated[
    str, typer.Option("--functional", "-f", help="Functional of the references.")
]
_Device = Annotated[str | None, typer.Option(help="cpu or cuda (default: the setting).")]
_Campaign = Annotated[
    str | None, typer.Option("--campaign", "-c", help="Train on this campaign's references only.")
]
_BaseModel = Annotated[
    str, typer.Option("--base-model", "-m", help="chgnet-<version> to start from.")
]
_AtomRef = Annotated[
    str, typer.Option(help="AtomRef: refit (then frozen), frozen (GGA), trainable, scratch.")
]
_Val = Annotated[
    list[str] | None,
    typer.Option("--val", help="Validation material (reduced formula); repeatable."),
]
_Test = Annotated[
    list[str] | None,
    typer.Option("--test", help="Held-out test material (reduced formula); repeatable."),
]
_Epochs = Annotated[int, typer.Option(min=0, help="Training epochs.")]
_Rate = Annotated[float, typer.Option("--lr", help="Adam learning rate.")]
_Batch = Annotated[int, typer.Option(min=1, help="Structures per batch.")]
_Seed = Annotated[int, typer.Option(help="Seed of the split, weights and batches.")]
_Freeze = Annotated[
    bool, typer.Option("--freeze/--no-freeze", help="Train only the last block and readout.")
]
_Selection = Annotated[str, typer.Option(help="Weights kept: best_val (by validation) or last.")]
_Json = Annotated[bool, typer.Option("--json", help="Print the document as JSON.")]


def finetune(
    campaign: _Campaign = _TUNE.campaign,
    functional: _Functional = _TUNE.functional,
    base_model: _BaseModel = _TUNE.base_model,
    atomref: _AtomRef = _TUNE.atomref_mode,
    val: _Val = _TUNE.val_materials,
    test: _Test = _TUNE.test_materials,
    epochs: _Epochs = _TUNE.epochs,
    lr: _Rate = _TUNE.learning_rate,
    batch_size: _Batch = _TUNE.batch_size,
    seed: _Seed = _TUNE.seed,
    freeze: _Freeze = _TUNE.freeze,
    selection: _Selection = _TUNE.selection,
    device: _Device = _TUNE.device,
    as_json: _Json = False,
) -> None:
    """Fine-tune CHGNet on stored references; register it as a model id; store its metrics.

    The split is by material: without --val/--test, a seeded fifth of the materials each.
    The model lands in the model folder as chgnet:<file>, usable in any campaign's models;
    its before/after errors on the test materials go to the corrections collection and into
    the report of the campaign it was trained on.
    """
    _choice("--atomref", atomref, get_args(AtomRefMode))
    _choice("--selection", selection, get_args(Selection))
    check_database()
    maker = FineTuneMaker(
        base_model=base_model,
        functional=_functional(functional),
        atomref_mode=atomref,  # type: ignore[arg-type]
        epochs=epochs,
        learning_rate=lr,
        batch_size=batch_size,
        seed=seed,
        val_materials=val,
        test_materials=test,
        campaign=campaign,
        device=device,
        freeze=freeze,
        selection=selection,  # type: ignore[arg-type]
    )
    with console.status(f"fine-tuning {base_model} on {functional} references ({epochs} epochs)"):
        try:
            doc = run_finetune(maker, settings=get_settings())
        except ValueError as exc:
            raise PesbenchError(str(exc)) from None
    if as_json:
        typer.echo(doc.model_dump_json(indent=1))
    else:
        _print_finetune(doc)


def _print_finetune(doc: FineTuneDoc) -> None:
    """What a fine-tune did, its warnings, and its held-out errors before and after."""
    console.print(
        f"{doc.model_id}: trained on {', '.join(doc.split['train'])} "
        f"({doc.n_structures['train']} structures) in {doc.train_seconds:.0f} s on {doc.device}; "
        f"validation {', '.join(doc.split['val']) or 'none'}; epoch kept "
        f"{doc.selected_epoch}/{doc.epochs}"
    )
    for note in doc.notes:
        console.print(f"[yellow]warning:[/] {note}")
    if doc.before is not None and doc.after is not None:
        table = Table(title=f"held out: {', '.join(doc.split['test'])}")
        for column in ("model", "structures", "energy MAE (meV/atom)", "force MAE (eV/Å)"):
            table.add_column(column)
        for label, m in (("before: " + doc.base_model, doc.before), ("after", doc.after)):
            table.add_row(
                label,
                str(m.n_structures),
                f"{m.energy_mae_per_atom * 1000:.1f}",
                f"{m.force_mae:.3f}",
            )
        console.print(table)
    else:
        console.print("no test material: no held-out metrics (give --test)")
    console.print(f"use it as a model id: {doc.model_id}")


def fit_scale(
    structure_ids: Annotated[
        list[str] | None,
        typer.Argument(help="Structures whose references to fit (default: picked, see --top)."),
    ] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="Model id to correct.")] = _FIT.model,
    functional: _Functional = _FIT.functional,
    campaign: Annotated[
        str | None, typer.Option("--campaign", "-c", help="Pick from this campaign's references.")
    ] = None,
    material: Annotated[
        str | None, typer.Option("--material", help="Pick from this material (reduced formula).")
    ] = None,
    top: Annotated[
        int, typer.Option(min=1, help="Without ids: fit the N references with the largest forces.")
    ] = 1,
    device: _Device = _FIT.device,
    as_json: Annotated[bool, typer.Option("--json", help="Print the fit as JSON.")] = False,
) -> None:
    """Fit the one-parameter softening correction of a model on one or a few references.

    By default the reference with the largest DFT force (of --campaign and --material) is
    fitted: a high-energy structure, as in the softening paper. The corrected model is
    <model>+scale@<fit-id>, usable wherever a model id is.
    """
    settings = get_settings()
    level = _functional(functional)
    check_database()
    data = load_training_set(
        level, settings=settings, structure_ids=structure_ids, campaign=campaign
    )
    if material is not None:
        data = data.subset([material])
    if not len(data):
        where = [
            *([f"of campaign {campaign}"] if campaign else []),
            *([f"of {material}"] if material else []),
            *(["of the given structures"] if structure_ids else []),
        ]
        raise PesbenchError(" ".join(["no successful", level, "references", *where, "to fit"]))
    if not structure_ids:
        largest = [float(np.abs(f).max()) for f in data.forces]
        data = data.take(list(np.argsort(largest)[::-1][:top]))
    try:
        fit = run_scale_fit(model, level, data, device=device, settings=settings, campaign=campaign)
    except ValueError as exc:
        raise PesbenchError(str(exc)) from None
    if as_json:
        typer.echo(json.dumps({**fit.model_dump(mode="json"), "model_id": fit.model_id}, indent=1))
        return
    console.print(
        f"{model} vs {functional} on {len(fit.structure_ids)} structure(s) of "
        f"{', '.join(sorted(set(fit.materials)))}: scale {fit.scale:.3f} "
        f"({'soft' if fit.scale < 1 else 'stiff'}), forces x {fit.factor:.3f}; "
        f"force MAE on them {fit.force_mae_before:.3f} -> {fit.force_mae_after:.3f} eV/Å"
    )
    console.print(f"use it as a model id: {fit.model_id}")


def _choice(option: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise PesbenchError(f"{option}: expected one of {', '.join(allowed)}, not {value!r}")


def _functional(value: str) -> Functional:
    """``value`` as a known functional, case-insensitively."""
    known = {name.lower(): name for name in get_args(Functional)}
    if value.lower() not in known:
        _choice("--functional", value, tuple(known.values()))
    return known[value.lower()]
