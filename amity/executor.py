"""Query worker processes with a deadline that really stops the work.

pyoxigraph has no timeout or cancel in Python, and a thread running a query
cannot be stopped (``shared/design/tech.md`` §1.8). So queries run in a small
pool of worker processes, each with a read-only handle on the current
snapshot. The web thread waits for the first bytes with a deadline; past it,
the worker is killed (SIGKILL frees its CPU at once), replaced in the
background, and the client gets a 503 while other workers go on answering.

Bytes flow back over a pipe as the worker's serializer produces them, so a
large result streams instead of being built in memory.

Two lanes keep cheap queries quick while expensive ones run: a query whose
kind (its text with the constants blanked) cost more than :data:`SLOW_SECONDS`
of CPU last time goes to the *slow* lane, whose processes run at a lower
scheduling priority (nice :data:`SLOW_NICE`); everything else, including
kinds never seen, goes to the *fast* lane. A fast-lane query that turns out
very expensive (:data:`LOWER_SECONDS`) is lowered to the slow priority as it
runs, and its process is replaced afterwards (a process cannot raise its own
priority again).

The time limit counts the CPU time the query uses, not the wall-clock time
it takes, so a legitimate query slowed by others is not stopped for their
load; a query starved of CPU altogether is stopped at :data:`WALL_FACTOR`
times the limit.

A query may hold :data:`QUERY_MEMORY_BYTES` of private memory: the process is
looked at as often as its CPU time and stopped past that, with a message that
says so. The kernel's limit on the process's data (``RLIMIT_DATA``) backs this
up for memory taken faster than it is looked at; the engine then aborts.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import queue
import resource
import signal
import tempfile
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from multiprocessing import get_context
from multiprocessing.connection import Connection
from typing import IO, Any

from amity.problems import AmityError, BadRequest, QueryMemoryExceeded, QueryTimeout, ServiceUnavailable
from amity.sparql import Prepared
from amity.sparql_text import with_total_order

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

    def finish(self, cpu: float) -> None:
        """End the answer, with the CPU seconds it took; one that fits in a chunk goes as a single message,
        saving the parent a wake-up."""
        if self.sent:
            if self.buffer:
                self._send()
            self.conn.send(("end", cpu))
        else:
            self.conn.send(("whole", bytes(self.buffer), cpu))


def _worker_main(conn: Connection, store_root: str, nice: int = 0, data_limit: int = 0,
                 stderr_path: str = "") -> None:
    """The loop of one worker process: receive a prepared query, send back chunks.

    ``data_limit``, when set, caps the process's data segment in bytes (``RLIMIT_DATA``: heap and private
    mappings, not the store's files), before the store is opened so that everything the engine takes counts.
    ``stderr_path`` receives what the process writes to its standard error, where the engine says why it
    aborted: the parent reads it to tell the client (see :func:`_worker_died`) and logs it.

    Every message is a tuple whose first item says what it is: ``("ready",)``, ``("data", bytes)``,
    ``("whole", bytes, cpu)``, ``("end", cpu)``, ``("error", exception, cpu)``.
    """
    from amity.processes import die_with_parent
    from amity.sparql import evaluate, serialize
    from amity.store import EmbeddedStore

    if stderr_path:
        errors = os.open(stderr_path, os.O_WRONLY | os.O_APPEND)
        os.dup2(errors, 2)
        os.close(errors)
    die_with_parent()
    if nice:
        os.nice(nice)
    if data_limit:
        resource.setrlimit(resource.RLIMIT_DATA, (data_limit, data_limit))

    store = EmbeddedStore(store_root)
    with contextlib.suppress(AmityError):  # no graph yet: each query will say so
        store.reader()  # open the snapshot now, not inside the first query's time limit
    try:
        conn.send(("ready",))
    except BrokenPipeError:  # the pool closed while this process started
        return
    while True:
        try:
            prepared: Prepared = conn.recv()
        except EOFError:
            return
        started = time.process_time()
        try:
            result = evaluate(store.reader(), prepared)
            writer = _PipeWriter(conn)
            serialize(result, prepared.format, writer)
            writer.finish(time.process_time() - started)
        except AmityError as error:
            conn.send(("error", error, time.process_time() - started))
        except Exception as error:  # reported to the parent, which answers 500 and logs it
            conn.send(("error", RuntimeError(f"{type(error).__name__}: {error}"), time.process_time() - started))


#: How long a new query process may take to start before it is given up on.
STARTUP_SECONDS = 120.0
#: The pause before another try when the system would not start a query process at all.
RESPAWN_SECONDS = 1.0
#: How long a query may wait for a free query process (apart from its own time limit) before a 503: a short
#: time limit must not turn a brief queue behind heavy queries into refusals.
QUEUE_SECONDS = 30.0
#: CPU seconds from which a kind of query counts as expensive and runs in the slow lane. The cheap lookups that
#: linked-data clients send take 1–30 ms; joins over the whole graph take 0.1 s and more.
SLOW_SECONDS = 0.1
#: CPU seconds after which a fast-lane query is lowered to the slow lane's priority while it runs. Higher than
#: :data:`SLOW_SECONDS`: a lowered process is replaced afterwards, and while a service learns its kinds, replacing
#: one process for each saved query of 0.1–0.5 s took seconds of CPU (each start costs ~0.13 s, more on a busy
#: machine) just when the load began; such a query now runs its first time at normal priority, then goes to the
#: slow lane.
LOWER_SECONDS = 0.5
#: The slow lane's priority: at nice 10 a process gets about a tenth of the CPU a nice-0 one gets when both want
#: it, so cheap queries and the web processes come first, and the slow lane still has every cycle they leave.
SLOW_NICE = 10
#: A query starved of CPU by others is stopped at this many times the time limit of wall-clock time.
WALL_FACTOR = 4.0
#: How often the CPU time of a running query is looked at.
CHECK_SECONDS = 0.1
#: A query process whose private memory has grown past this after a query is replaced (``AMITY_QUERY_WORKER_MB``):
#: freed memory mostly stays with a process, so one query that needed 2 GiB would otherwise keep it for good.
WORKER_MEMORY_BYTES = 256 * 1024 * 1024
#: The private memory one query may hold (``AMITY_QUERY_MEMORY_MB``). A sort or a group over the whole default
#: graph needs well under this; a sort of a cross join grew to 2.8 GiB in 10 s before the time limit stopped it.
QUERY_MEMORY_BYTES = 1024 * 1024 * 1024


def data_limit_for(query_memory: int) -> int:
    """The kernel's backstop for a process whose queries may hold ``query_memory`` bytes (0: none).

    ``RLIMIT_DATA`` counts address space the process has made writable, which runs ahead of what it holds
    (an idle query process holds ~25 MiB and has ~100 MiB of data), so the backstop leaves room above the
    limit that the pool itself enforces with a clear message.
    """
    return max(2 * query_memory, query_memory + 256 * 1024 * 1024) if query_memory else 0

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def cpu_seconds(pid: int) -> float | None:
    """The CPU time (user and system) a process has used, or None where Linux's ``/proc`` is not there."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()  # the command name in (...) may hold spaces
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def private_memory_bytes(pid: int) -> int | None:
    """The resident anonymous memory of a process (its own heap, not the store's shared file pages): resident
    minus shared pages in ``/proc/<pid>/statm``, one short line read after every query."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            fields = statm.read().split()
        return (int(fields[1]) - int(fields[2])) * _PAGE_BYTES
    except (OSError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class _Lane:
    name: str
    size: int
    nice: int


#: What is kept of a query process's standard error between two reads.
STDERR_KEEP_BYTES = 1024 * 1024


class _Worker:
    def __init__(self, context: Any, store_root: str, lane: _Lane, data_limit: int = 0) -> None:
        parent, child = context.Pipe()
        self.conn = parent
        self.lane = lane
        self.lowered = False  # its priority was lowered during a query: it cannot be raised again
        try:
            descriptor, self._stderr_path = tempfile.mkstemp(prefix="amity-query-", suffix=".stderr")
            self._stderr: IO[bytes] | None = os.fdopen(descriptor, "rb")
        except OSError as error:  # a full /tmp must not stop queries: they run without the engine's last words
            log.warning("query process without a standard-error file: %s", error)
            self._stderr_path, self._stderr = "", None
        self.process = context.Process(target=_worker_main, daemon=True,
                                       args=(child, store_root, lane.nice, data_limit, self._stderr_path))
        self.process.start()
        child.close()

    def _forget_stderr_path(self) -> None:
        """Once the process has opened it, the file needs no name: nothing is left behind if we are killed."""
        if self._stderr_path:
            with contextlib.suppress(OSError):
                os.unlink(self._stderr_path)

    def last_words(self) -> str:
        """What the process wrote to its standard error since the last call."""
        if self._stderr is None:
            return ""
        try:
            written = self._stderr.read()
            if self._stderr.tell() > STDERR_KEEP_BYTES:
                os.ftruncate(self._stderr.fileno(), 0)  # the process appends: its next words start the file
                self._stderr.seek(0)
        except (OSError, ValueError):
            return ""
        return written.decode("utf-8", "replace") if written else ""

    def log_last_words(self) -> str:
        words = self.last_words()
        if words.strip():
            log.warning("query process %s wrote: %s", self.process.pid, words.strip()[-4000:])
        return words

    def wait_ready(self, timeout: float = STARTUP_SECONDS) -> bool:
        """Whether the process started and opened the store in time (an interpreter start takes ~0.5 s of CPU,
        much more on a loaded machine: that time must not count against a query's limit)."""
        try:
            return self.conn.poll(timeout) and self.conn.recv()[0] == "ready"
        except (EOFError, OSError):
            return False
        finally:
            self._forget_stderr_path()

    def lower_priority(self) -> None:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, self.process.pid, SLOW_NICE)
        self.lowered = True

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.join(timeout=5)
        finally:
            self.conn.close()
            self.log_last_words()
            if self._stderr is not None:
                self._stderr.close()
            self._forget_stderr_path()


class _Clock:
    """The time limit of one query: its CPU time, or where that cannot be read, its wall-clock time."""

    def __init__(self, worker: _Worker, limit: float) -> None:
        self.pid = worker.process.pid
        self.limit = limit
        self.cpu_start = cpu_seconds(self.pid)
        wall = limit if self.cpu_start is None else limit * WALL_FACTOR
        self.wall_deadline = time.monotonic() + wall

    def cpu_used(self) -> float | None:
        if self.cpu_start is None:
            return None
        now = cpu_seconds(self.pid)
        return None if now is None else now - self.cpu_start

    def timeout(self, *, starved: bool) -> QueryTimeout:
        if self.cpu_start is None:
            why = f"ran longer than the {self.limit:g} s limit"
        elif starved:
            why = f"waited for CPU longer than {WALL_FACTOR:g} times the {self.limit:g} s limit"
        else:
            why = f"used more than the {self.limit:g} s limit of CPU time"
        return QueryTimeout(f"the query {why} and was stopped", extra={"timeout_seconds": self.limit})


class CostBook:
    """What each kind of query (:attr:`Prepared.shape`) cost in CPU seconds, as a running average.

    Bounded (least recently used kinds are forgotten) and shared by the threads of one web process.
    """

    def __init__(self, max_kinds: int = 4096) -> None:
        self.max_kinds = max_kinds
        self._costs: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def estimate(self, shape: str) -> float | None:
        with self._lock:
            return self._costs.get(shape)

    def record(self, shape: str, seconds: float) -> None:
        with self._lock:
            old = self._costs.pop(shape, None)
            # Quick to learn that a kind is expensive, slow to forget it: the same kind with other constants can
            # cost ten times more, and a cheap query in the slow lane loses less than a fast lane held up.
            self._costs[shape] = seconds if old is None else max(seconds, (old + seconds) / 2)
            if len(self._costs) > self.max_kinds:
                self._costs.popitem(last=False)


#: Signals a worker dies of when the engine fails on the query itself: pyoxigraph overflows its stack
#: (SIGSEGV) on expressions chained or nested thousands deep, which no pre-check catches in every form.
_CRASH_SIGNALS = frozenset({signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGILL, signal.SIGFPE})


class Unorderable(BadRequest):
    """The engine aborted while sorting values that have no order between them (pyoxigraph 0.5.13 panics with
    "user-provided comparison function does not correctly implement a total order")."""


def _worker_died(worker: _Worker, query_memory: int) -> AmityError:
    """Why the engine gave up on the query, from its exit and its last words on standard error: a client
    error when the query would crash it again, else a retryable 503."""
    worker.process.join(timeout=2)
    code = worker.process.exitcode
    words = worker.log_last_words()
    if code is None or code >= 0 or -code not in _CRASH_SIGNALS:
        return ServiceUnavailable("the query worker stopped unexpectedly; try again")
    log.warning("a query crashed its worker (signal %d)", -code)
    if "memory allocation of" in words:
        return QueryMemoryExceeded(
            f"the query took memory faster than it could be looked at, past the {query_memory / 2**20:g} MiB "
            "a query may hold, and the engine stopped", extra={"memory_limit_bytes": query_memory})
    if "does not correctly implement a total order" in words:
        return Unorderable("the query engine (pyoxigraph) cannot sort these values: ORDER BY met values with no "
                           "order between them (numbers and strings, say) and the engine aborted; order by "
                           "STR(…), or filter the values to one kind")
    said = [line.strip() for line in words.splitlines() if line.strip() and not line.startswith(" ")]
    if "overflowed its stack" in words or not said:
        return BadRequest(f"the query engine failed on this query (signal {-code}); queries nested or chained "
                          "thousands of levels deep do this: simplify it")
    reason = next((said[i + 1] for i, line in enumerate(said[:-1]) if "panicked at" in line), said[-1])
    return BadRequest(f"the query engine failed on this query (signal {-code}): {reason[:500]}")


class QueryPool:
    """Query worker processes in two lanes, shared by the threads of one web process.

    ``size`` processes: half of them (rounded up) in the fast lane, the rest in the slow lane. A query for the
    fast lane takes an idle slow-lane process when no fast one is idle; a slow query waits for its own lane,
    so a burst of expensive queries never holds every process.
    """

    def __init__(self, store_root: str | os.PathLike[str], *, size: int = 2, timeout: float = 30.0,
                 max_worker_memory: int = WORKER_MEMORY_BYTES, query_memory: int = QUERY_MEMORY_BYTES) -> None:
        self.store_root = str(store_root)
        self.size = size
        self.timeout = timeout
        self.max_worker_memory = max_worker_memory
        self.query_memory = query_memory
        self.fast = _Lane("fast", size - size // 2, 0)
        self.slow = _Lane("slow", size // 2, SLOW_NICE) if size >= 2 else None
        self.costs = CostBook()
        self._context = get_context("spawn")
        # Last in, first out within a lane: under light load the same worker answers again, with warm caches.
        self._idle: dict[str, list[_Worker]] = {"fast": [], "slow": []}
        self._busy: set[_Worker] = set()
        self._waiting: dict[str, deque[int]] = {"fast": deque(), "slow": deque()}  # tickets in line, per lane
        self._tickets = itertools.count()
        self._changed = threading.Condition()
        self._started = False
        self._start_lock = threading.Lock()
        self._to_spawn: queue.Queue[_Lane | None] = queue.Queue()  # a lane to start one worker for; None: stop
        self.killed = 0
        self.recycled = 0  # replaced after a query for their memory or their lowered priority

    def _ensure_started(self) -> None:
        with self._start_lock:
            if not self._started:
                # Every query process is started by this one thread, which lives as long as the pool: Linux
                # sends a process's parent-death signal when the *thread* that forked it ends, so processes
                # started by short-lived threads were killed (SIGKILL) as soon as their starter finished.
                self._spawner = threading.Thread(target=self._spawn_forever, name="amity-query-spawner",
                                                 daemon=True)
                self._spawner.start()
                for lane in (self.fast, self.slow):
                    for _ in range(lane.size if lane else 0):
                        self._to_spawn.put(lane)
                with self._changed:  # the first queries wait for the first worker, not for all of them
                    if not self._changed.wait_for(lambda: any(self._idle.values()), timeout=STARTUP_SECONDS):
                        raise ServiceUnavailable("the query processes did not start; try again shortly")
                self._started = True

    def _spawn_forever(self) -> None:
        while (lane := self._to_spawn.get()) is not None:
            while True:
                try:
                    new = _Worker(self._context, self.store_root, lane, data_limit_for(self.query_memory))
                except Exception:  # no process could be made (EAGAIN, ENOMEM): this thread must live on
                    log.exception("a query process could not be started; trying again in %g s", RESPAWN_SECONDS)
                    time.sleep(RESPAWN_SECONDS)
                    continue
                if new.wait_ready():
                    self._give_back(new)
                    break
                log.error("a query process did not start within %g s; trying again", STARTUP_SECONDS)
                new.kill()

    def _give_back(self, worker: _Worker) -> None:
        with self._changed:
            self._busy.discard(worker)
            self._idle[worker.lane.name].append(worker)
            self._changed.notify_all()

    def _replace(self, worker: _Worker) -> None:
        """Kill a worker whose query was stopped or failed; another is started in its lane."""
        self.killed += 1
        self._restart(worker)

    def _restart(self, worker: _Worker) -> None:
        worker.kill()
        with self._changed:
            self._busy.discard(worker)
        self._to_spawn.put(worker.lane)  # the new one joins the idle ones once it is ready

    def _done(self, worker: _Worker, prepared: Prepared, cpu: float) -> None:
        self.costs.record(prepared.shape, cpu)
        worker.log_last_words()
        # A lowered process cannot get its priority back, and a grown one keeps its memory: a fresh one takes
        # the place of either.
        if worker.lowered or (private_memory_bytes(worker.process.pid) or 0) > self.max_worker_memory:
            self.recycled += 1
            self._restart(worker)
        else:
            self._give_back(worker)

    def lane_for(self, prepared: Prepared) -> _Lane:
        """The slow lane for a kind of query that was expensive before, else the fast lane."""
        cost = self.costs.estimate(prepared.shape)
        return self.slow if self.slow and cost is not None and cost >= SLOW_SECONDS else self.fast

    def run(self, prepared: Prepared, *, timeout: float | None = None) -> Iterable[bytes]:
        """Run a query in a worker; the first chunk is ready when this returns.

        A list is a complete answer (it came in one message); an iterator streams a larger one, which a
        time limit may still cut short: then the iterator raises :class:`QueryTimeout` instead of ending.

        A query whose sort made the engine abort is run once more, sorted by the kind and datatype of each
        value first (:func:`amity.sparql_text.with_total_order`), which SPARQL allows and the engine survives.

        :raises QueryTimeout: if no answer started within the time limit.
        :raises AmityError: what the worker raised (syntax errors, …).
        """
        try:
            return self._run(prepared, timeout)
        except Unorderable:
            ordered = with_total_order(prepared.text)
            if ordered is None:
                raise
            log.warning("the engine could not sort a query's values; running it again with a total order")
            return self._run(replace(prepared, text=ordered), timeout)

    def _run(self, prepared: Prepared, timeout: float | None) -> Iterable[bytes]:
        self._ensure_started()
        limit = self.timeout if timeout is None else timeout
        worker = self._take(self.lane_for(prepared), prepared, limit)
        # The limit is the query's own running time: a cheap query that waited for a worker behind heavy
        # ones still gets all of it (killing it would cost a worker restart and punish the wrong client).
        clock = _Clock(worker, limit)
        try:
            first = self._receive(worker, clock, prepared)
        except BaseException:
            self._replace(worker)
            raise
        if first[0] == "error":
            self._done(worker, prepared, first[2])
            raise first[1]
        if first[0] == "whole":
            self._done(worker, prepared, first[2])
            return [first[1]]
        return self._stream(worker, first, clock, prepared)

    def _take(self, lane: _Lane, prepared: Prepared, limit: float) -> _Worker:
        """An idle worker that has accepted the query; one that died while idle is replaced and skipped.

        Queries wait in line, first come first served within a lane (see :meth:`_claim`): when every
        thread raced for each freed worker, an unlucky query of a saturated slow lane lost race after race
        and was refused after 30 s while later ones were served.
        """
        deadline = time.monotonic() + max(limit, QUEUE_SECONDS)
        with self._changed:
            me = next(self._tickets)
            self._waiting[lane.name].append(me)
        try:
            for _ in range(self.size + 1):
                with self._changed:
                    while (worker := self._claim(lane.name, me)) is None:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            raise ServiceUnavailable("all query workers are busy; try again shortly",
                                                     headers={"Retry-After": "5"})
                        self._changed.wait(remaining)
                    self._busy.add(worker)
                try:
                    worker.conn.send(prepared)
                    return worker
                except OSError:
                    log.error("a query process died while idle (exit code %s); replaced",
                              worker.process.exitcode)
                    self._replace(worker)
            raise ServiceUnavailable("query processes keep dying; try again shortly",
                                     headers={"Retry-After": "5"})
        finally:
            with self._changed:
                self._waiting[lane.name].remove(me)
                self._changed.notify_all()  # the next in line may take a worker that is already idle

    def _claim(self, lane: str, me: int) -> _Worker | None:
        """An idle worker for the query with ticket ``me`` if it is first in its lane's line (call with the
        lock held).

        A fast-lane query takes a fast worker, else a slow one; a slow worker goes to whichever of the two
        lines' first queries came first, so cheap queries may borrow it without starving the slow lane.
        """
        fast, slow = self._waiting["fast"], self._waiting["slow"]
        if lane == "fast":
            if fast[0] != me:
                return None
            if self._idle["fast"]:
                return self._idle["fast"].pop()
            return self._idle["slow"].pop() if self._idle["slow"] and (not slow or slow[0] > me) else None
        if slow[0] != me:
            return None
        return self._idle["slow"].pop() if self._idle["slow"] and (not fast or fast[0] > me) else None

    def _receive(self, worker: _Worker, clock: _Clock, prepared: Prepared) -> tuple[Any, ...]:
        """The worker's next message, checking its CPU time while it works."""
        while True:
            remaining = clock.wall_deadline - time.monotonic()
            if remaining > 0 and worker.conn.poll(min(remaining, CHECK_SECONDS)):
                try:
                    return worker.conn.recv()
                except (EOFError, OSError):
                    raise _worker_died(worker, self.query_memory) from None
            used = clock.cpu_used()
            if remaining <= 0 or (used is not None and used >= clock.limit):
                self.costs.record(prepared.shape, clock.limit)
                raise clock.timeout(starved=remaining <= 0)
            held = private_memory_bytes(clock.pid) if self.query_memory else None
            if held is not None and held > self.query_memory:
                self.costs.record(prepared.shape, clock.limit)  # expensive: the slow lane next time
                raise QueryMemoryExceeded(
                    f"the query held more than the {self.query_memory / 2**20:g} MiB of memory a query may hold "
                    f"and was stopped", extra={"memory_limit_bytes": self.query_memory})
            if used is not None and used >= LOWER_SECONDS and worker.lane is self.fast and self.slow \
                    and not worker.lowered:
                worker.lower_priority()  # expensive after all: let cheap queries go first

    def _stream(self, worker: _Worker, first: tuple[Any, ...], clock: _Clock, prepared: Prepared
                ) -> Iterator[bytes]:
        message = first
        try:
            while message[0] == "data":
                yield message[1]
                message = self._receive(worker, clock, prepared)
        except (QueryTimeout, QueryMemoryExceeded) as limit:
            # Raised, not swallowed: an answer cut short must not look complete (the web layer answers 503
            # if nothing was sent yet, else breaks the connection).
            log.warning("query stopped after output had started: %s", limit)
            self._replace(worker)
            raise
        except BaseException:  # the client went away (GeneratorExit), or the worker died: it may still write
            self._replace(worker)
            raise
        self._done(worker, prepared, message[-1])
        if message[0] == "error":
            log.error("query failed after output had started: %s", message[1])
            raise message[1]

    def idle_workers(self) -> list[_Worker]:
        with self._changed:
            return [worker for workers in self._idle.values() for worker in workers]

    def busy_workers(self) -> list[_Worker]:
        with self._changed:
            return list(self._busy)

    def close(self) -> None:
        self._to_spawn.put(None)
        with self._changed:
            idle = [worker for workers in self._idle.values() for worker in workers]
            for workers in self._idle.values():
                workers.clear()
        for worker in idle:
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
