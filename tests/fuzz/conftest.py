"""Hypothesis settings for the fuzz suite.

CI runs a small, derandomised profile so a run is reproducible and quick; set
``FUZZ_EXAMPLES=5000`` (for example) to explore further on your machine.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 200, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])


def read_as(name: str, data: bytes, read, error: type[BaseException]) -> tuple[str, object]:
    """Write ``data`` to a fresh file called ``name``, open it with ``read(path)``.

    Returns the file's full path and what ``read`` returned, or the ``error`` it raised;
    any other exception propagates and fails the test.
    """
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            return str(path), read(path)
        except error as exc:
            return str(path), exc
