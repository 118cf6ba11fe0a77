"""Errors the core raises, each carrying the HTTP status and title a client should see.

The web layer turns them into RFC 9457 problem documents and the command line
into a one-line message and a non-zero exit, so both doors report the same
mistake the same way.
"""

from __future__ import annotations

from typing import Any


class AmityError(Exception):
    """Base of every error meant for a client: never a 500."""

    status = 500
    title = "Internal error"

    def __init__(self, detail: str, *, extra: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}
        self.headers = headers or {}

    def __reduce__(self):  # keep extra and headers when sent between processes
        return (_rebuild, (type(self), self.detail, self.extra, self.headers))

    def to_dict(self) -> dict[str, Any]:
        return {"type": "about:blank", "title": self.title, "status": self.status,
                "detail": self.detail, **self.extra}


class BadRequest(AmityError):
    status = 400
    title = "Bad request"


class QuerySyntaxError(BadRequest):
    """A query or update the parser refused; ``extra`` carries line and column."""

    title = "Malformed query"


class DocumentSyntaxError(BadRequest):
    """An RDF document the parser refused; ``extra`` carries line and column."""

    title = "Malformed RDF document"


class BadParameter(BadRequest):
    title = "Bad parameter"


class Unauthorized(AmityError):
    status = 401
    title = "Unauthorized"

    def __init__(self, detail: str, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="amity"'})
        super().__init__(detail, **kwargs)


class Forbidden(AmityError):
    status = 403
    title = "Forbidden"


class NotFound(AmityError):
    status = 404
    title = "Not found"


class NotAcceptable(AmityError):
    status = 406
    title = "Not acceptable"


class Conflict(AmityError):
    status = 409
    title = "Conflict"


class PayloadTooLarge(AmityError):
    status = 413
    title = "Payload too large"


class UnsupportedMediaType(AmityError):
    status = 415
    title = "Unsupported media type"


class ShapeViolation(AmityError):
    """Data that breaks the SHACL shapes; ``extra`` carries the report."""

    status = 422
    title = "Data violates the shapes"


class QueryTimeout(AmityError):
    status = 503
    title = "Query time limit exceeded"


class QueryMemoryExceeded(AmityError):
    """The query needed more memory than one query may hold; it would again, so no Retry-After."""

    status = 503
    title = "Query memory limit exceeded"


class ServiceUnavailable(AmityError):
    status = 503
    title = "Service unavailable"


class BuildFailed(AmityError):
    """The build refused to publish a graph (e.g. SHACL violations)."""

    title = "Build failed"


def _rebuild(cls: type[AmityError], detail: str, extra: dict[str, Any], headers: dict[str, str]) -> AmityError:
    error = cls.__new__(cls)
    AmityError.__init__(error, detail, extra=extra, headers=headers)
    return error
