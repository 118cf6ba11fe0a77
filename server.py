"""The Flask application: configuration, the store handle, blueprints and error handlers.

``flask --app server run`` finds :func:`create_app`; ``amity serve`` hands the
same app to gunicorn. Views live in ``amity/web/``, one blueprint per entry point.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from amity.external import ExternalStore
from amity.service import Amity, Settings
from amity.store import EmbeddedStore


def create_app(config: dict[str, Any] | None = None, *,
               store: EmbeddedStore | ExternalStore | None = None) -> Flask:
    """Build the app; ``config`` keys override the ``AMITY_*`` environment (e.g. ``STORE_PATH``)."""
    from amity.web import cors, entities, errors, graphs, headers, meta, queries, sparql

    config = config or {}
    app = Flask(__name__, template_folder="amity/web/templates", static_folder="amity/web/static")
    app.config.update(TESTING=config.get("TESTING", False))
    settings = Settings.from_env(
        store_path=config.get("STORE_PATH"),
        query_timeout=config.get("QUERY_TIMEOUT"),
        row_cap=config.get("ROW_CAP"),
        query_workers=config.get("QUERY_WORKERS"),
        max_request_bytes=config.get("MAX_REQUEST_BYTES"),
        max_upload_bytes=config.get("MAX_UPLOAD_BYTES"),
        service_allowlist=config.get("SERVICE_ALLOWLIST"),
        result_cache_bytes=config.get("RESULT_CACHE_BYTES"),
    )
    app.config["MAX_CONTENT_LENGTH"] = max(settings.max_request_bytes, settings.max_upload_bytes)
    app.extensions["amity"] = Amity(settings, store=store)

    for blueprint in (meta.bp, sparql.bp, entities.bp, queries.bp, graphs.bp):
        app.register_blueprint(blueprint)
    errors.init_app(app)
    cors.init_app(app)
    headers.init_app(app)
    return app
