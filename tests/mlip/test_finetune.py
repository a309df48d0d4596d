"""AtomRef refit, split by material, and CHGNet fine-tuning with each AtomRef mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pymatgen.core import Composition, Lattice, Structure

from pesbench.analysis.referencing import fit_atomref
from pesbench.mlip.atomref import atomref_of, refit_atomref, span_notes
from pesbench.mlip.base import state_dict_checksum
from pesbench.mlip.finetune import LOSS_WEIGHTS, EpochErrors, FinetuneResult, finetune_chgnet
from pesbench.mlip.training_set import TrainingSet, split_by_material

PRIOR = {"Li": -1.9, "Mg": -1.7, "O": -8.4, "F": -4.2, "Ca": -1.3}


def _planted(n: int = 30, seed: int = 0) -> tuple[list[Composition], np.ndarray, dict, dict]:
    """Random compositions whose energies are sum n_el (prior + planted shift) + small noise."""
    rng = np.random.default_rng(seed)
    shift = {"Li": 3.1, "Mg": -12.5, "O": 25.0, "F": -0.7, "Ca": 40.2}  # eV/atom, GGA-r2SCAN-like
    comps = []
    for _ in range(n):
        counts = rng.integers(0, 5, size=len(PRIOR))
        counts[rng.integers(len(PRIOR))] += 1
        comps.append(Composition(dict(zip(PRIOR, counts.tolist(), strict=True))))
    truth = {el: PRIOR[el] + shift[el] for el in PRIOR}
    energies = np.array([sum(c[el] * truth[el] for el in PRIOR) for c in comps])
    return comps, energies, truth, shift


def test_refit_recovers_planted_shifts_and_rereferences_exactly() -> None:
    comps, energies, truth, shift = _planted()
    fit = refit_atomref(comps, energies, PRIOR)
    for el in PRIOR:
        assert fit.energies[el] == pytest.approx(truth[el], abs=1e-9)
        assert fit.energies[el] - PRIOR[el] == pytest.approx(shift[el], abs=1e-9)
    # re-referenced energies (E - sum n mu) vanish to numerical precision
    assert np.abs(fit.referenced(comps, energies)).max() < 1e-9
    assert fit.rmse_per_atom < 1e-10
    # the same as a direct least-squares AtomRef: the prior only fixes what data cannot
    direct = fit_atomref(comps, energies)
    assert all(direct.energies[el] == pytest.approx(fit.energies[el]) for el in PRIOR)


def test_refit_with_noise_stays_close() -> None:
    comps, energies, truth, _ = _planted(200, seed=1)
    n = np.array([c.num_atoms for c in comps])
    noisy = energies + np.random.default_rng(2).normal(0, 0.01, len(comps)) * n
    fit = refit_atomref(comps, noisy, PRIOR)
    assert max(abs(fit.energies[el] - truth[el]) for el in PRIOR) < 0.02


def test_refit_underdetermined_takes_minimum_norm_shift_and_fits_the_span() -> None:
    # four stoichiometries, five elements: LiF is in their span, MgO's split is not fixed
    comps = [Composition(f) for f in ("MgO", "CaO", "Li2O", "CaF2")]
    truth = {el: PRIOR[el] + d for el, d in zip(PRIOR, (1.0, 2.0, -3.0, 0.5, 4.0), strict=True)}
    energies = [sum(c[el] * truth[el] for el in c.as_dict()) for c in comps]
    fit = refit_atomref(comps, energies, PRIOR)
    assert np.abs(fit.referenced(comps, energies)).max() < 1e-9
    lif = Composition("LiF")
    expected = truth["Li"] + truth["F"]
    assert fit.reference_energy([lif])[0] == pytest.approx(expected, abs=1e-9)
    with pytest.raises(ValueError, match="no prior"):
        refit_atomref(comps, energies, {"Mg": 0.0})


def test_split_by_material_never_leaks_and_is_seeded() -> None:
    materials = [m for m in ("A", "B", "C", "D", "E", "F") for _ in range(3)]
    split = split_by_material(materials, seed=3)
    assert split == split_by_material(materials, seed=3)
    sets = [set(split[k]) for k in ("train", "val", "test")]
    assert set().union(*sets) == set(materials)
    assert sum(len(s) for s in sets) == 6  # disjoint
    assert len(split["test"]) == 1
    assert len(split["val"]) == 1
    explicit = split_by_material(materials, val=[], test=["A", "B"])
    assert explicit == {"train": ["C", "D", "E", "F"], "val": [], "test": ["A", "B"]}
    with pytest.raises(ValueError, match="no structures"):
        split_by_material(materials, test=["Z"])
    with pytest.raises(ValueError, match="left to train"):
        split_by_material(["A"], test=["A"])


def _fcc(a: float) -> Lattice:
    h = a / 2
    return Lattice([[0, h, h], [h, 0, h], [h, h, 0]])


def _tiny_set() -> TrainingSet:
    """Rattled MgO and CaO cells labelled with energies shifted far from CHGNet's GGA scale."""
    rng = np.random.default_rng(0)
    data = TrainingSet()
    for formula, species, a, shift in (
        ("MgO", ["Mg", "O"], 4.26, -3.0),
        ("CaO", ["Ca", "O"], 4.8, -2.0),
    ):
        for k in range(3):
            s = Structure(_fcc(a), species, [[0, 0, 0], [0.5, 0.5, 0.5]])
            s.perturb(0.05)
            data.structures.append(s)
            data.energies.append(len(s) * (shift + 0.01 * k))
            data.forces.append(rng.normal(0, 0.1, (2, 3)))
            data.stresses.append(np.zeros((3, 3)))
            data.ids.append(f"{formula}-{k}")
            data.materials.append(formula)
    return data


def test_refit_rereferences_the_pretrained_model() -> None:
    """Refitted AtomRef, no training: the pretrained model's mean error per material is 0."""
    torch.set_num_threads(1)
    data = _tiny_set()
    model, record = finetune_chgnet(data, TrainingSet(), atomref_mode="refit", epochs=0)
    assert abs(record.atomref_after["O"] - record.atomref_before["O"]) > 0.1
    preds = model.predict_structure(data.structures, task="e", batch_size=6)
    error = np.array([float(p["e"]) for p in preds]) - data.energies_per_atom()
    for material in ("MgO", "CaO"):
        mask = np.array(data.materials) == material
        assert abs(error[mask].mean()) < 1e-4  # float32 model
    assert np.abs(error).max() > 1e-4  # the rattles still differ: the graph part is kept


@pytest.mark.parametrize("mode", ["refit", "frozen", "trainable"])
def test_finetune_atomref_modes(mode: str) -> None:
    torch.set_num_threads(1)
    data = _tiny_set()
    model, record = finetune_chgnet(
        data,
        TrainingSet(),
        atomref_mode=mode,
        epochs=1,
        batch_size=6,
        seed=0,  # type: ignore[arg-type]
    )
    before, after = record.atomref_before, record.atomref_after
    assert set(after) == {"Ca", "Mg", "O"}
    if mode == "frozen":
        assert after == before
    elif mode == "refit":
        assert abs(after["O"] - before["O"]) > 0.1  # refitted (then frozen: not trained)
    else:
        assert after != before  # trained
        assert max(abs(after[el] - before[el]) for el in after) < 0.1  # one small step
    assert atomref_of(model, ["O"]) == {"O": after["O"]}
    assert record.train_seconds > 0


def _val_mae(model: object, data: TrainingSet) -> float:
    preds = model.predict_structure(data.structures, task="e", batch_size=len(data))  # type: ignore[attr-defined]
    energies = np.array([float(p["e"]) for p in preds])
    return float(np.mean(np.abs(energies - data.energies_per_atom())))


def test_best_val_keeps_the_starting_weights_when_training_only_hurts() -> None:
    """A destructive learning rate: every epoch validates worse than the refitted start."""
    torch.set_num_threads(1)
    data = _tiny_set()
    train, val = data.subset(["MgO"]), data.subset(["CaO"])
    kwargs = {"atomref_mode": "refit", "epochs": 2, "batch_size": 3, "learning_rate": 0.5}
    model, record = finetune_chgnet(train, val, selection="best_val", **kwargs)  # type: ignore[arg-type]
    curve = record.val_energy_mae
    assert len(curve) == 3  # the start, then each epoch
    assert record.selected_epoch == 0
    assert curve[0] < min(curve[1:])
    assert _val_mae(model, val) == pytest.approx(curve[0], abs=1e-5)

    last, record = finetune_chgnet(train, val, selection="last", **kwargs)  # type: ignore[arg-type]
    assert record.selected_epoch == 2
    assert _val_mae(last, val) == pytest.approx(record.val_energy_mae[-1], rel=1e-5)
    assert _val_mae(last, val) > _val_mae(model, val)


def test_best_val_returns_the_weights_of_the_epoch_it_reports() -> None:
    torch.set_num_threads(1)
    data = _tiny_set()
    train, val = data.subset(["MgO"]), data.subset(["CaO"])
    model, record = finetune_chgnet(
        train, val, atomref_mode="refit", epochs=4, batch_size=1, learning_rate=3e-3, seed=1
    )
    curve, selected = record.val_energy_mae, record.selected_epoch
    assert selected == int(np.argmin(curve))
    assert 0 <= selected <= 4  # the starting weights (0) or an epoch's checkpoint
    assert _val_mae(model, val) == pytest.approx(curve[selected], abs=1e-4)


def test_finetune_returns_a_typed_result_of_the_weights_it_returns() -> None:
    """Two epochs with validation: errors per epoch in their units, the kept weights' checksum."""
    torch.set_num_threads(1)
    data = _tiny_set()
    train, val = data.subset(["MgO"]), data.subset(["CaO"])
    model, result = finetune_chgnet(train, val, epochs=2, batch_size=3, seed=0)
    assert isinstance(result, FinetuneResult)
    assert result.base_model == "chgnet-0.3.0"
    assert (result.atomref_mode, result.selection, result.device) == ("refit", "best_val", "cpu")
    assert result.n_structures == {"train": 3, "val": 3}
    assert result.loss_weights == dict(LOSS_WEIGHTS)
    assert set(result.atomref_after) == set(result.atomref_before) == {"Mg", "O"}
    for errors in (result.train_mae, result.val_mae):
        assert isinstance(errors, EpochErrors)
        assert len(errors.energy) == len(errors.force) == len(errors.stress) == 2  # per epoch
        assert all(0 < f < 1 for f in errors.force)  # eV/Å: labels of ~0.1 eV/Å
        assert all(0 < s < 50 for s in errors.stress)  # GPa: labels of 0
    assert all(0 < e < 0.05 for e in result.train_mae.energy)  # eV/atom: AtomRef refitted on MgO
    assert result.val_mae is not None  # CaO: Ca's AtomRef is not refitted, eV/atom off
    assert all(1 < e < 10 for e in result.val_mae.energy)
    assert result.val_energy_mae[1:] == pytest.approx(result.val_mae.energy)  # after the start
    assert result.selected_epoch == int(np.argmin(result.val_energy_mae))
    assert 0 < result.train_seconds < 600
    assert result.checksum == state_dict_checksum(model)
    assert FinetuneResult.model_validate_json(result.model_dump_json()) == result
    units = {name: f.description or "" for name, f in FinetuneResult.model_fields.items()}
    units.update({f"mae.{n}": f.description or "" for n, f in EpochErrors.model_fields.items()})
    assert all(units.values())  # every field described
    for name, unit in (
        ("atomref_before", "eV/atom"),
        ("val_energy_mae", "eV/atom"),
        ("train_seconds", ", s."),
        ("mae.energy", "eV/atom"),
        ("mae.force", "eV/Å"),
        ("mae.stress", "GPa"),
    ):
        assert unit in units[name], name


def test_freeze_trains_only_the_last_block_and_the_readout() -> None:
    from chgnet.model import CHGNet

    torch.set_num_threads(1)
    data = _tiny_set()
    model, record = finetune_chgnet(
        data, TrainingSet(), atomref_mode="frozen", epochs=1, batch_size=6, learning_rate=1e-2,
        freeze=True,
    )  # fmt: skip
    assert record.val_energy_mae == []  # no validation set: nothing to select on
    base = CHGNet.load(model_name="0.3.0", use_device="cpu", verbose=False).state_dict()
    tuned = model.state_dict()
    last = len(model.atom_conv_layers) - 1

    def same(prefix: str) -> bool:
        keys = [k for k in base if k.startswith(prefix)]
        assert keys, prefix
        return all(torch.equal(base[k], tuned[k].cpu()) for k in keys)

    assert same("atom_embedding.")
    assert same("bond_basis_expansion.")
    assert same("atom_conv_layers.0.")
    assert same("bond_conv_layers.")
    assert not same(f"atom_conv_layers.{last}.")
    assert not same("mlp.")


def test_span_notes_flag_held_out_materials_the_refit_cannot_fix() -> None:
    train = ["Mg4O4", "Ca4O4", "Li4O2", "Ca2F4"]  # cells, not reduced formulas
    assert span_notes(train, {"LiF": "test", "MgF2": "val"}) == []  # both in the span
    notes = span_notes(["CaF2", "CaO", "MgO"], {"LiF": "test", "Li2O": "val"})
    assert len(notes) == 2
    assert notes[0].startswith("Li2O (val) is not a combination")
    assert all("(Li not in training)" in n for n in notes)
    (note,) = span_notes(["MgO", "CaF2"], {"CaO": "test"})
    assert "CaO (test)" in note
    assert "(not in their span)" in note
