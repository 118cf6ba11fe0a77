"""Run the Flask app under gunicorn (gthread workers) with Amity's settings."""

from __future__ import annotations

import os

import click
from gunicorn.app.base import BaseApplication

from amity.external import ExternalStore
from amity.memory import limit_malloc_arenas
from amity.service import Settings
from amity.store import EmbeddedStore


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict[str, object]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from server import create_app

        return create_app()


def run_gunicorn(store: EmbeddedStore | ExternalStore, *, host: str, port: int, workers: int, threads: int,
                 query_workers: int, query_timeout: float | None) -> None:
    """Start gunicorn; each web worker gets its own pool of query processes.

    gthread workers keep idle keep-alive connections off the worker threads, and
    the query processes, not the web threads, carry the time limit, so the
    gunicorn worker timeout only guards against a wedged worker. On a remote store the store carries
    the time limit and no query processes start (``amity/remote_executor.py``).
    """
    if isinstance(store, ExternalStore):
        os.environ.update(store.environment())
        where = f"{store.spec} (state in {store.root.resolve()})"
        query_workers = 0
    else:
        os.environ["AMITY_STORE"] = str(store.root.resolve())
        where = str(store.root.resolve())
    os.environ["AMITY_QUERY_WORKERS"] = str(query_workers)
    limit_malloc_arenas()
    if query_timeout is not None:
        os.environ["AMITY_QUERY_TIMEOUT"] = str(query_timeout)
    settings = Settings.from_env()  # what each web worker's create_app will read
    limit = settings.query_timeout
    version = store.version()
    url = f"http://{host}:{port}/"
    executor = f"{query_workers} query processes each" if query_workers else "queries run by the store"
    memory = settings.query_memory_bytes / 2**20
    limits = f"{limit:g} s query time limit" + (f", {memory:g} MiB per query" if query_workers and memory else "")
    click.echo(
        f"Amity serving {where} (version {version}) at {url}\n"
        f"  SPARQL endpoint {url}sparql · query page {url} · VoID {url}.well-known/void\n"
        f"  {workers} web workers × {threads} threads, {executor}, {limits}"
    )
    _Gunicorn({
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": int(limit) + 60,
        "graceful_timeout": 10,
        "keepalive": 5,
        "limit_request_line": 16384,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "warning",
    }).run()
