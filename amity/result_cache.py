"""Answers to repeated queries, remembered for as long as the snapshot they were computed on is published.

A published snapshot never changes (``amity/store.py``), so an answer stays right until the next publish, and
every publish replaces the ``CURRENT`` file: its identity (inode, modification time) is part of each key, which
makes invalidation free and exact. Clients repeat themselves a great deal (dashboards, saved queries, linked-data
browsers fetching the same few answers), and for a small query the hop to a query process costs more than the
query; a hit skips both.

Only complete answers are kept: an executor returns a ``list`` of chunks when it has the whole answer in hand,
an iterator when it streams one that a time limit could still cut short.

>>> cache = ResultCache(max_bytes=10, max_entry_bytes=6)
>>> cache.put("a", b"12345"); cache.put("b", b"123456"); cache.put("c", b"1234567")
>>> cache.get("a"), cache.get("b"), cache.get("c")   # "a" made room for "b"; "c" is too large to keep
(None, b'123456', None)
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Protocol

from amity.sparql import Prepared


class Executor(Protocol):
    killed: int

    def run(self, prepared: Prepared, *, timeout: float | None = None) -> Iterable[bytes]: ...

    def close(self) -> None: ...


class ResultCache:
    """A byte-bounded LRU map, safe to share between the threads of one web process."""

    def __init__(self, max_bytes: int, max_entry_bytes: int = 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = min(max_entry_bytes, max_bytes)
        self._entries: OrderedDict[Hashable, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            body = self._entries.get(key)
            if body is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return body

    def put(self, key: Hashable, body: bytes) -> None:
        if len(body) > self.max_entry_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._size -= len(old)
            self._entries[key] = body
            self._size += len(body)
            while self._size > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._size -= len(evicted)


def cache_key(prepared: Prepared) -> Hashable:
    """Everything that decides the bytes of an answer besides the data."""
    return (prepared.text, prepared.format.name, prepared.default_graphs, prepared.named_graphs,
            prepared.substitutions, prepared.has_from)


class CachingExecutor:
    """An executor that answers a query it has answered on the same published snapshot from memory."""

    def __init__(self, executor: Executor, current_file: Path, cache: ResultCache) -> None:
        self.executor = executor
        self.current_file = current_file
        self.cache = cache

    @property
    def killed(self) -> int:
        return self.executor.killed

    def _published(self) -> tuple[int, int, int] | None:
        try:
            stat = os.stat(self.current_file)
        except FileNotFoundError:
            return None
        return stat.st_ino, stat.st_mtime_ns, stat.st_size

    def run(self, prepared: Prepared, *, timeout: float | None = None) -> Iterable[bytes]:
        # Read before the query runs, so the worker sees this snapshot or a newer one. An answer computed on a
        # newer one is filed under a key no later request asks for (they all see the newer CURRENT by then).
        published = self._published()
        key = (published, cache_key(prepared))
        if published is not None:
            body = self.cache.get(key)
            if body is not None:
                return [body]
        chunks = self.executor.run(prepared, timeout=timeout)
        if published is not None and isinstance(chunks, list):
            self.cache.put(key, b"".join(chunks))
        return chunks

    def close(self) -> None:
        self.executor.close()
