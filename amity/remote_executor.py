"""Running endpoint queries on a remote store: the store enforces the time limit, Amity writes the answer.

The embedded store needs query processes because pyoxigraph cannot stop a query (``amity/executor.py``). A
remote store can: the limit goes to the store with the query (Virtuoso's ``timeout``, Fuseki's ``timeout``;
:class:`~amity.remote.TimeLimitParameter`), the client gives up waiting a few seconds after it, and a web
thread waiting on a socket holds no CPU. So queries run in the web thread. A query over the limit is the
same 503 problem as on the embedded store (:class:`~amity.problems.QueryTimeout`), also when the store
would have sent a partial answer instead.

The answer is parsed into pyoxigraph objects and written by :func:`amity.sparql.serialize`, so clients
get the bytes the embedded store would send for the same solutions.
"""

from __future__ import annotations

from amity.external import ExternalStore
from amity.sparql import Prepared, run


class RemoteExecutor:
    """The executor interface of :class:`~amity.executor.QueryPool` for an :class:`ExternalStore`."""

    def __init__(self, store: ExternalStore, *, timeout: float = 30.0) -> None:
        self.store = store
        self.timeout = timeout
        self.killed = 0  # nothing to kill: the store stops its own queries

    def run(self, prepared: Prepared, *, timeout: float | None = None) -> list[bytes]:
        """Evaluate on the store within the time limit; the answer is complete when this returns.

        :raises QueryTimeout: when the store stopped the query at the limit (or answered partially).
        :raises QuerySyntaxError: with pyoxigraph's line and column.
        """
        limit = self.timeout if timeout is None else timeout
        reader = self.store.reader().limited(limit)
        return list(run(reader, prepared))  # type: ignore[arg-type]

    def close(self) -> None:
        pass
