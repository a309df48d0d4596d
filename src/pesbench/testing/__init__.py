"""Fakes shipped with the package, for users to test their own campaigns.

Empty until its issue lands.
"""

from __future__ import annotations
