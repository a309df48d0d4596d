"""Pure generators of out-of-distribution structures, one module per category.

Empty until its issue lands.
"""

from __future__ import annotations
