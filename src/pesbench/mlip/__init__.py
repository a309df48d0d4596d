"""Universal ML interatomic potentials behind one interface: load a model, predict a batch.

Empty until its issue lands.
"""

from __future__ import annotations
