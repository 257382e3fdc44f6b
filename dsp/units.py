"""Physical constants shared by every layer (one definition each)."""

from __future__ import annotations

from typing import Final

__all__ = ["STANDARD_GRAVITY_MPS2"]

#: Standard gravity, m/s^2 per g (CGPM 1901): converts between g and m/s^2 everywhere.
STANDARD_GRAVITY_MPS2: Final = 9.80665
