"""Query worker processes with a deadline that really stops the work.

pyoxigraph has no timeout or cancel in Python, and a thread running a query
cannot be stopped (``shared/design/tech.md`` §1.8). So queries run in a small
pool of worker processes, each with a read-only handle on the current
snapshot. The web thread waits for the first bytes with a deadline; past it,
the worker is killed (SIGKILL frees its CPU at once), replaced in the
background, and the client gets a 503 while other workers go on answering.

Bytes flow back over a pipe as the worker's serializer produces them, so a
large result streams instead of being built in memory.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from multiprocessing import get_context
from multiprocessing.connection import Connection
from typing import Any

from amity.problems import AmityError, BadRequest, QueryTimeout, ServiceUnavailable
from amity.sparql import Prepared

log = logging.getLogger(__name__)
CHUNK = 64 * 1024


class _PipeWriter:
    """A binary writer for pyoxigraph's serializer that sends 64 KiB chunks down a pipe."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.buffer = bytearray()
        self.sent = False

    def write(self, data: bytes) -> int:
        self.buffer += data
        if len(self.buffer) >= CHUNK:
            self._send()
        return len(data)

    def flush(self) -> None:
        """pyoxigraph flushes when it is done; what is left goes with :meth:`finish`, in one message if it can."""

    def _send(self) -> None:
        self.conn.send(("data", bytes(self.buffer)))
        self.buffer.clear()
        self.sent = True

    def finish(self) -> None:
        """End the answer; one that fits in a chunk goes as a single message, saving the parent a wake-up."""
        if self.sent:
            if self.buffer:
                self._send()
            self.conn.send(("end", None))
        else:
            self.conn.send(("whole", bytes(self.buffer)))


def _worker_main(conn: Connection, store_root: str) -> None:
    """The loop of one worker process: receive a prepared query, send back chunks."""
    from amity.processes import die_with_parent
    from amity.sparql import evaluate, serialize
    from amity.store import EmbeddedStore

    die_with_parent()

    store = EmbeddedStore(store_root)
    with contextlib.suppress(AmityError):  # no graph yet: each query will say so
        store.reader()  # open the snapshot now, not inside the first query's time limit
    conn.send(("ready", None))
    while True:
        try:
            prepared: Prepared = conn.recv()
        except EOFError:
            return
        try:
            result = evaluate(store.reader(), prepared)
            writer = _PipeWriter(conn)
            serialize(result, prepared.format, writer)
            writer.finish()
        except AmityError as error:
            conn.send(("error", error))
        except Exception as error:  # reported to the parent, which answers 500 and logs it
            conn.send(("error", RuntimeError(f"{type(error).__name__}: {error}")))


#: How long a new query process may take to start before it is given up on.
STARTUP_SECONDS = 120.0
#: How long a query may wait for a free query process (apart from its own time limit) before a 503: a short
#: time limit must not turn a brief queue behind heavy queries into refusals.
QUEUE_SECONDS = 30.0


class _Worker:
    def __init__(self, context: Any, store_root: str) -> None:
        parent, child = context.Pipe()
        self.conn = parent
        self.process = context.Process(target=_worker_main, args=(child, store_root), daemon=True)
        self.process.start()
        child.close()

    def wait_ready(self, timeout: float = STARTUP_SECONDS) -> bool:
        """Whether the process started and opened the store in time (an interpreter start takes ~0.5 s of CPU,
        much more on a loaded machine: that time must not count against a query's limit)."""
        try:
            return self.conn.poll(timeout) and self.conn.recv()[0] == "ready"
        except (EOFError, OSError):
            return False

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.join(timeout=5)
        finally:
            self.conn.close()


#: Signals a worker dies of when the engine fails on the query itself: pyoxigraph overflows its stack
#: (SIGSEGV) on expressions chained or nested thousands deep, which no pre-check catches in every form.
_CRASH_SIGNALS = frozenset({signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGILL, signal.SIGFPE})


def _worker_died(worker: _Worker) -> AmityError:
    """A client error when the query crashed the engine (it would again), else a retryable 503."""
    worker.process.join(timeout=2)
    code = worker.process.exitcode
    if code is not None and code < 0 and -code in _CRASH_SIGNALS:
        log.warning("a query crashed its worker (signal %d); answered 400", -code)
        return BadRequest(f"the query engine failed on this query (signal {-code}); queries nested or chained "
                          "thousands of levels deep do this: simplify it")
    return ServiceUnavailable("the query worker stopped unexpectedly; try again")


class QueryPool:
    """A fixed number of query worker processes shared by the threads of one web process."""

    def __init__(self, store_root: str | os.PathLike[str], *, size: int = 2, timeout: float = 30.0) -> None:
        self.store_root = str(store_root)
        self.size = size
        self.timeout = timeout
        self._context = get_context("spawn")
        # Last in, first out: under light load the same worker answers again, with its caches warm.
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._started = False
        self._start_lock = threading.Lock()
        self._to_spawn: queue.Queue[bool] = queue.Queue()  # True: start one more worker; False: stop
        self.killed = 0

    def _ensure_started(self) -> None:
        with self._start_lock:
            if not self._started:
                # Every query process is started by this one thread, which lives as long as the pool: Linux
                # sends a process's parent-death signal when the *thread* that forked it ends, so processes
                # started by short-lived threads were killed (SIGKILL) as soon as their starter finished.
                self._spawner = threading.Thread(target=self._spawn_forever, name="amity-query-spawner",
                                                 daemon=True)
                self._spawner.start()
                for _ in range(self.size):
                    self._to_spawn.put(True)
                try:  # the first queries wait for the first worker, not for all of them
                    self._idle.put(self._idle.get(timeout=STARTUP_SECONDS))
                except queue.Empty:
                    raise ServiceUnavailable("the query processes did not start; try again shortly") from None
                self._started = True

    def _spawn_forever(self) -> None:
        while self._to_spawn.get():
            while True:
                new = _Worker(self._context, self.store_root)
                if new.wait_ready():
                    self._idle.put(new)
                    break
                log.error("a query process did not start within %g s; trying again", STARTUP_SECONDS)
                new.kill()

    def _replace(self, worker: _Worker) -> None:
        """Kill a worker and have another started; it joins the idle ones once it is ready."""
        worker.kill()
        self.killed += 1
        self._to_spawn.put(True)

    def run(self, prepared: Prepared, *, timeout: float | None = None) -> Iterable[bytes]:
        """Run a query in a worker; the first chunk is ready when this returns.

        A list is a complete answer (it came in one message); an iterator streams a larger one, which a
        time limit may still cut short.

        :raises QueryTimeout: if no answer started within the time limit.
        :raises AmityError: what the worker raised (syntax errors, …).
        """
        self._ensure_started()
        limit = self.timeout if timeout is None else timeout
        worker = self._take(prepared, limit)
        # The limit is the query's own running time: a cheap query that waited for a worker behind heavy
        # ones still gets all of it (killing it would cost a worker restart and punish the wrong client).
        deadline = time.monotonic() + limit
        try:
            first = self._receive(worker, deadline, limit)
        except BaseException:
            self._replace(worker)
            raise
        if first[0] in ("error", "whole"):
            self._idle.put(worker)
            if first[0] == "error":
                raise first[1]
            return [first[1]]
        return self._stream(worker, first, deadline)

    def _take(self, prepared: Prepared, limit: float) -> _Worker:
        """An idle worker that has accepted the query; one that died while idle is replaced and skipped."""
        for _ in range(self.size + 1):
            try:
                worker = self._idle.get(timeout=max(limit, QUEUE_SECONDS))
            except queue.Empty:
                raise ServiceUnavailable("all query workers are busy; try again shortly",
                                         headers={"Retry-After": "5"}) from None
            try:
                worker.conn.send(prepared)
                return worker
            except OSError:
                log.error("a query process died while idle (exit code %s); replaced",
                          worker.process.exitcode)
                self._replace(worker)
        raise ServiceUnavailable("query processes keep dying; try again shortly", headers={"Retry-After": "5"})

    def _receive(self, worker: _Worker, deadline: float, limit: float) -> tuple[str, Any]:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not worker.conn.poll(remaining):
            raise QueryTimeout(f"the query ran longer than the {limit:g} s limit and was stopped",
                               extra={"timeout_seconds": limit})
        try:
            return worker.conn.recv()
        except (EOFError, OSError):
            raise _worker_died(worker) from None

    def _stream(self, worker: _Worker, first: tuple[str, Any], deadline: float) -> Iterator[bytes]:
        message = first
        try:
            while message[0] == "data":
                yield message[1]
                message = self._receive(worker, deadline, self.timeout)
        except QueryTimeout:
            log.warning("query stopped at its time limit after output had started; response truncated")
            self._replace(worker)
            return
        except GeneratorExit:  # the client went away: the worker may still be writing
            self._replace(worker)
            raise
        except BaseException:
            self._replace(worker)
            raise
        if message[0] == "error":
            log.error("query failed after output had started: %s", message[1])
        self._idle.put(worker)

    def close(self) -> None:
        self._to_spawn.put(False)
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                return
            worker.kill()


class InProcess:
    """The same interface without processes: for the command line and in-process tests."""

    def __init__(self, store_root: str | os.PathLike[str]) -> None:
        from amity.store import EmbeddedStore

        self.store = EmbeddedStore(store_root)
        self.killed = 0

    def run(self, prepared: Prepared, *, timeout: float | None = None) -> Iterable[bytes]:
        from amity.sparql import run

        return list(run(self.store.reader(), prepared))

    def close(self) -> None:
        pass
