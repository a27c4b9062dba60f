"""medpolicy: medical coverage guidelines as executable, explainable, auditable decisions."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
