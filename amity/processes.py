"""Helpers for the worker processes Amity starts (query workers, validation workers)."""

from __future__ import annotations


def die_with_parent() -> None:
    """Ask Linux to kill this worker when its parent dies, so a killed server or build leaves no orphans."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
