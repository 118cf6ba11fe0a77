"""Every error becomes an RFC 9457 problem: JSON for programs, a short page for browsers.

Client mistakes keep their 4xx status and the parser's message; anything
unexpected is logged with its traceback and answered as a bare 500.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, json, render_template, request
from werkzeug.exceptions import HTTPException

from amity.problems import AmityError

log = logging.getLogger(__name__)


def _wants_html() -> bool:
    best = request.accept_mimetypes.best_match(["application/problem+json", "application/json", "text/html"])
    return best == "text/html" and not request.path.endswith((".json", ".csv", ".tsv"))


def problem_response(body: dict, status: int, headers: dict[str, str] | None = None) -> Response:
    if _wants_html():
        response = Response(render_template("problem.html", problem=body), status=status,
                            content_type="text/html; charset=utf-8")
    else:
        response = Response(json.dumps(body, ensure_ascii=False, indent=1), status=status,
                            content_type="application/problem+json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def handle_amity_error(error: AmityError) -> Response:
    return problem_response(error.to_dict(), error.status, error.headers)


def handle_http_exception(error: HTTPException) -> Response:
    body = {"type": "about:blank", "title": error.name, "status": error.code, "detail": error.description}
    headers = {k: v for k, v in error.get_response().headers.items() if k.lower() in ("allow", "retry-after")}
    return problem_response(body, error.code or 500, headers)


def handle_unexpected(error: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.path)
    body = {"type": "about:blank", "title": "Internal server error", "status": 500,
            "detail": "the server failed; the error has been logged"}
    return problem_response(body, 500)


def init_app(app: Flask) -> None:
    app.register_error_handler(AmityError, handle_amity_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
