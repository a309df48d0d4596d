"""DFT engines behind one seam (:class:`~pesbench.engines.base.DFTEngine`).

``gpaw``: the embedded local engine (GPAW under MPI, a subprocess per run); ``vasp``:
VASP through atomate2's input sets and custodian; or an import path ``module:Class`` of
your own (:func:`~pesbench.engines.base.get_engine`).
"""

from __future__ import annotations
