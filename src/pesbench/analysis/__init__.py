"""Pure numpy/pymatgen analysis: metrics, softening, referencing, properties, plots.

Empty until its issue lands.
"""

from __future__ import annotations
