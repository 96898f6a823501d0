"""keepref-lint: find and fix dropped lifetime-critical return values.

Importing this package is cheap: it exposes the runtime marker only and imports no parser.
"""

from keepref_lint.marker import must_retain

__version__ = "0.1.0"
__all__ = ["__version__", "must_retain"]
