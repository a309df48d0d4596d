"""DFT engines behind one seam: VASP (atomate2 + custodian) and the local engine.

Empty until its issue lands.
"""

from __future__ import annotations
