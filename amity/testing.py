"""Run the real service in a subprocess: for tests and benchmarks that need real HTTP clients.

Like Flask's ``testing`` module, this ships with the package so the test suite
and the benchmark scripts start servers the same way.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import requests

from amity.store import EmbeddedStore

if TYPE_CHECKING:
    from amity.external import ExternalStore

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    process: subprocess.Popen
    url: str
    store: EmbeddedStore | ExternalStore
    log: Path

    def sparql_url(self) -> str:
        return self.url + "sparql"


def start_server(store: EmbeddedStore | ExternalStore, log: Path, *, timeout: float = 30.0, workers: int = 1,
                 threads: int = 4,
                 query_workers: int = 2, extra_env: dict[str, str] | None = None,
                 program: Sequence[str] = ("-m", "amity.cli")) -> LiveServer:
    """``amity serve`` on a free loopback port; returns once it answers a query.

    ``program`` is what ``python`` runs with ``serve …`` after it: another entry point that ends in the same
    command line can wrap it (the crash tests install their pause points that way).
    """
    from amity.external import ExternalStore

    port = free_port()
    remote = store.environment() if isinstance(store, ExternalStore) else {}  # a remote store's settings
    env = {**os.environ, **remote, "AMITY_QUERY_TIMEOUT": str(timeout), **(extra_env or {})}
    out = open(log, "w")  # noqa: SIM115 - the server writes to it for its whole life
    process = subprocess.Popen(
        [sys.executable, *program, "serve", "--store", store.spec, "--port", str(port),
         "--workers", str(workers), "--threads", str(threads), "--query-workers", str(query_workers)],
        cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited: {log.read_text()}")
        try:
            if requests.get(url + "sparql", params={"query": "ASK {}"}, timeout=5).status_code == 200:
                return LiveServer(process, url, store, log)
        except requests.RequestException:
            time.sleep(0.2)
    stop_server_process(process)
    raise RuntimeError(f"the server did not start: {log.read_text()}")


def stop_server_process(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


def stop_server(server: LiveServer) -> None:
    stop_server_process(server.process)


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its children (the server with its query workers)."""
    import psutil

    try:
        parent = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])
    except psutil.NoSuchProcess:
        return 0
