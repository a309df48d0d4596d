"""The sides: a DFT cell relaxation ends with a fresh single point of the relaxed cell."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from planted import cu_bulk

from pesbench.properties import EngineSide
from pesbench.relax import RelaxOutcome
from pesbench.schemas.relaxation import RelaxSettings
from pesbench.settings import PesbenchSettings
from pesbench.stores.properties import RelaxationStore
from pesbench.testing.emt import EmtEngine


class InitialCellEngine(EmtEngine):
    """EMT plus an offset fixed by the INITIAL cell's volume, like a k-mesh by density that
    a DFT code keeps through a cell relaxation."""

    def relax(self, structure: Any, *args: Any, **kwargs: Any) -> RelaxOutcome:
        outcome = super().relax(structure, *args, **kwargs)
        offset = 0.01 * structure.volume
        outcome.energies = [e + offset for e in outcome.energies]
        return outcome


def test_cell_relaxation_energy_is_a_fresh_single_point(tmp_path: Path) -> None:
    side = EngineSide(InitialCellEngine(), "PBE", workdir=tmp_path)
    doc = side.relax(cu_bulk(3.8), RelaxSettings(relax_cell=True, fmax=0.01))
    assert doc.status == "success"
    assert doc.final_single_point
    final = doc.final_structure
    assert final.volume < cu_bulk(3.8).volume
    # the last frame carries the initial cell's offset; the energy is the relaxed cell's own
    assert doc.frames.energies[-1] == pytest.approx(
        doc.energy - 0.01 * final.volume + 0.01 * cu_bulk(3.8).volume
    )
    fresh = side.relax(final, RelaxSettings.static())
    assert doc.energy == pytest.approx(fresh.energy, abs=1e-9)


def test_positions_only_relaxation_keeps_its_last_frame(tmp_path: Path) -> None:
    side = EngineSide(InitialCellEngine(), "PBE", workdir=tmp_path)
    doc = side.relax(cu_bulk(3.8), RelaxSettings(fmax=0.01))
    assert not doc.final_single_point
    assert doc.energy == doc.frames.energies[-1]


class CountingEngine(EmtEngine):
    """EMT whose relaxations take a second each and are counted."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.relaxed: list[str] = []

    def relax(self, structure: Any, *args: Any, **kwargs: Any) -> RelaxOutcome:
        self.relaxed.append(structure.formula)
        time.sleep(1.0)
        return super().relax(structure, *args, **kwargs)


def test_two_workers_run_a_dft_relaxation_once(
    db_settings: PesbenchSettings, tmp_path: Path
) -> None:
    """Issue 15: a DFT side relaxes under a claim; the other worker waits and reuses it."""
    engine = CountingEngine()
    sides = [
        EngineSide(engine, "PBE", workdir=tmp_path / name, cache=RelaxationStore(db_settings))
        for name in ("a", "b")
    ]
    for side in sides:
        side.cache.connect()  # type: ignore[union-attr]
    cells = [cu_bulk(3.8), cu_bulk(3.7)]  # what a property relaxes: a list of terms
    with ThreadPoolExecutor(2) as pool:
        docs = list(pool.map(lambda side: side.relax_many(cells, RelaxSettings()), sides))
    assert len(engine.relaxed) == 2  # each once, not twice
    assert [d.relaxation_id for d in docs[0]] == [d.relaxation_id for d in docs[1]]
    assert [d.energy for d in docs[0]] == [d.energy for d in docs[1]]
