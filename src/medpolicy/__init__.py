"""medpolicy: medical coverage guidelines as executable, explainable, auditable decisions."""

from __future__ import annotations

from medpolicy import _compiled

__version__ = "0.1.0"

__all__ = ["COMPILED", "__version__"]

# Whether the decision's modules run compiled (see ``_compiled``): "compiled", "python" (a
# plain install), "stale" (built from other sources: run as Python) or "asked" (Python asked for).
COMPILED = _compiled.use()
