"""A local HTTP server that records every request it gets: the "other host" of the no-fetching tests.

The tests that prove the service never reaches another host (SERVICE, LOAD, dataset IRIs, JSON-LD contexts, XML
entities and DTDs, owl:imports) point those at this server, so "never contacted" is observed, not assumed. It
answers whatever is asked with one fixed 200 response, so that a fetch that did happen would succeed and carry on
rather than fail early and hide itself; each test module picks the answer that would be most tempting to use (a
SPARQL result, a JSON-LD context, nothing at all).
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterable


def never_contacted(hits: list[str]) -> None:
    """Fail if the recording server got a request; waits a moment first, so a late fetch shows up too."""
    time.sleep(0.3)
    assert hits == [], f"the other host was contacted: {hits}"


class RecordingServer:
    """An HTTP server on ``127.0.0.1`` (a free port) in a daemon thread; use it as a context manager.

    Every request with one of ``methods`` is recorded in :attr:`hits` (as ``"GET /path?query"``, or the bare
    path when ``record_method`` is false) before it is answered with 200, ``body`` and, when given,
    ``content_type`` (and a ``Content-Length`` unless ``send_length`` is false). Other methods get
    :mod:`http.server`'s 501 and are not recorded. Nothing is logged.
    """

    def __init__(self, body: bytes = b"", content_type: str | None = None, *,
                 methods: Iterable[str] = ("GET", "POST"), send_length: bool = True,
                 record_method: bool = True) -> None:
        self.body = body
        self.content_type = content_type
        self.methods = tuple(methods)
        self.send_length = send_length
        self.record_method = record_method
        self.hits: list[str] = []
        self._server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """The server's base URL, with the trailing slash: ``http://127.0.0.1:<port>/``."""
        if self._server is None:
            raise RuntimeError("the recording server is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def reset(self) -> list[str]:
        """Start a fresh list of hits (the old list keeps what it had) and return it."""
        self.hits = []
        return self.hits

    def start(self) -> RecordingServer:
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> RecordingServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        """A handler class bound to this server: ``do_<METHOD>`` for each of ``methods``, all answering alike."""
        recording = self

        def answer(handler: http.server.BaseHTTPRequestHandler) -> None:
            # Looked up at each request, so a reset() between tests takes effect at once.
            recording.hits.append(f"{handler.command} {handler.path}" if recording.record_method else handler.path)
            handler.send_response(200)
            if recording.content_type is not None:
                handler.send_header("Content-Type", recording.content_type)
            if recording.send_length:
                handler.send_header("Content-Length", str(len(recording.body)))
            handler.end_headers()
            handler.wfile.write(recording.body)

        def log_message(handler: http.server.BaseHTTPRequestHandler, *args: object) -> None:
            pass  # a recorded hit is what the tests look at; the request log would only be noise

        namespace = {f"do_{method}": answer for method in self.methods} | {"log_message": log_message}
        return type("RecordingHandler", (http.server.BaseHTTPRequestHandler,), namespace)
