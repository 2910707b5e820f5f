"""pandera, imported without hypothesis.

pandera imports hypothesis at its own import whenever hypothesis is installed, for the
data-synthesis strategies of ``DataFrameSchema.example()``, which batchpay never calls:
0.13 s of every ``validate`` and ``run`` (measured with ``-X importtime``), a tenth of the
start-up. A user's ``pip install batchpay`` has no hypothesis, but a contributor's test
environment has, and the benchmarks run there. So pandera is imported here with hypothesis
hidden (pandera then uses its own placeholders, as without it), and every batchpay module
takes pandera from this one. When hypothesis or pandera is already loaded (a test process),
nothing is hidden and pandera is whatever was loaded.
"""

from __future__ import annotations

import sys


def _import_pandera() -> None:
    if "hypothesis" in sys.modules or "pandera" in sys.modules:
        return
    # None in sys.modules makes `import hypothesis` raise ImportError, which pandera catches.
    sys.modules["hypothesis"] = None  # type: ignore[assignment]
    try:
        # pandera.pandas, and the modules it loads at the first validation (the backends
        # and the built-in checks, which load the strategies).
        import pandera.backends.pandas.builtin_checks
        import pandera.backends.pandas.register
        import pandera.pandas  # noqa: F401
    finally:
        if sys.modules.get("hypothesis", ...) is None:
            del sys.modules["hypothesis"]


_import_pandera()

# isort: split
import pandera.pandas as pa  # noqa: E402
from pandera.config import ValidationDepth, config_context  # noqa: E402
from pandera.errors import SchemaErrors  # noqa: E402
from pandera.typing import Series  # noqa: E402

__all__ = ["SchemaErrors", "Series", "ValidationDepth", "config_context", "pa"]
