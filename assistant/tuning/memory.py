"""Resident memory of this process, with a resettable peak (Linux), for per-model figures."""

from __future__ import annotations

from pathlib import Path

_STATUS = Path("/proc/self/status")


def _status_kb(key: str) -> float | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(key + ":"):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def rss_mb() -> float:
    """Current resident set size in MB (0 where the platform does not say)."""
    kb = _status_kb("VmRSS")
    if kb is None:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return kb / 1024


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (``VmHWM``) so the next peak is this model's alone.

    Returns False where that is not possible; the peak then includes earlier work.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_mb() -> float:
    """Peak resident set size since the last :func:`reset_peak` (or process start), MB."""
    kb = _status_kb("VmHWM")
    return kb / 1024 if kb is not None else rss_mb()
