"""Helpers the benchmark scripts share: medians and the peak memory of the served process tree."""

from __future__ import annotations

import contextlib
import statistics
import threading
import time
from collections.abc import Callable

from amity.testing import tree_rss_bytes


def median_ms(run: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``run`` in milliseconds, after one warm-up call."""
    run()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def paired_medians_ms(first: Callable[[], object], second: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median wall times of two ways of doing the same thing, timed in alternation.

    A shared machine's speed drifts by tens of percent over a minute; timed one after the other, a 3 ms query's
    "overhead" moved by a millisecond between runs. Alternating puts the same drift into both medians.
    """
    first(), second()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for run, into in ((first, times[0]), (second, times[1])):
            started = time.perf_counter()
            run()
            into.append((time.perf_counter() - started) * 1000)
    return statistics.median(times[0]), statistics.median(times[1])


class PeakRss:
    """Samples the memory of a process tree (the server and its query workers): summed RSS every 100 ms, and
    summed PSS every second, keeping what each kind of process held at the PSS peak (:meth:`breakdown`).

    Summed RSS counts a page shared by several processes (the store's files, libraries) once per process; PSS
    divides it among them, so it is what the tree costs the machine. PSS is read from ``smaps_rollup``, which
    costs more, hence the slower sampling.
    """

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self.peak_pss, self._stop = pid, 0, 0, threading.Event()
        self.at_peak: list[tuple[str, int]] = []  # (kind of process, PSS) at the PSS peak
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        ticks = 0
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_bytes(self.pid))
            if ticks % 10 == 0:
                shares = tree_pss_by_process(self.pid)
                total = sum(pss for _kind, pss in shares)
                if total > self.peak_pss:
                    self.peak_pss, self.at_peak = total, shares
            ticks += 1
            time.sleep(0.1)

    def breakdown(self) -> str:
        """What each kind of process held at the PSS peak, e.g. ``web 2 × 150 MiB, query 8 × 70 MiB``."""
        kinds: dict[str, list[int]] = {}
        for kind, pss in self.at_peak:
            kinds.setdefault(kind, []).append(pss)
        return ", ".join(f"{kind} {len(sizes)} × {sum(sizes) / len(sizes) / 2**20:.0f} MiB "
                         f"(max {max(sizes) / 2**20:.0f})" for kind, sizes in kinds.items())

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _kind_of(process, root: int) -> str:
    command = " ".join(process.cmdline())
    if "multiprocessing" in command:
        return "helper" if "resource_tracker" in command else "query process"
    return "master" if process.pid == root else "web worker"


def tree_pss_by_process(pid: int) -> list[tuple[str, int]]:
    """Proportional set size of a process and each of its children, with what kind of process each is (master,
    web worker, query process, helper); empty where Linux's smaps are not readable."""
    import psutil

    try:
        parent = psutil.Process(pid)
        processes = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
    shares = []
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            shares.append((_kind_of(process, pid), getattr(process.memory_full_info(), "pss", 0)))
    return shares


def tree_pss_bytes(pid: int) -> int:
    """Proportional set size of a process and all its children (0 where Linux's smaps are not readable)."""
    return sum(pss for _kind, pss in tree_pss_by_process(pid))


def wait_for_query_processes(server_pid: int, url: str, expected: int, timeout: float = 60.0) -> None:
    """Return once the service has started all its query processes, then let their start-up CPU settle.

    Each web worker starts its pool on its first query, and each process start costs ~0.13 s of CPU, which
    would otherwise land in the first measurements. New connections reach the web workers in turn.
    """
    import psutil
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        requests.get(url, params={"query": "ASK {}"}, headers={"Connection": "close"}, timeout=30)
        try:
            children = psutil.Process(server_pid).children(recursive=True)
            started = sum("multiprocessing-fork" in " ".join(child.cmdline()) for child in children)
        except psutil.Error:
            started = 0
        if started >= expected:
            time.sleep(2.0)
            return
        time.sleep(0.2)
    raise RuntimeError(f"the service did not start {expected} query processes within {timeout:g} s")
