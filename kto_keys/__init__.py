"""kto-keys: collect TourAPI restaurant data across a pool of service keys."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
