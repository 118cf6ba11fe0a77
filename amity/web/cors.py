"""CORS for everything that only reads, through flask-cors rather than hand-written headers."""

from __future__ import annotations

from flask import Flask
from flask_cors import CORS

READ_METHODS = ["GET", "HEAD", "POST", "OPTIONS"]


def init_app(app: Flask) -> None:
    read_only = {"origins": "*", "methods": READ_METHODS, "expose_headers": ["X-SPARQL-MaxRows", "Link"]}
    CORS(app, resources={
        r"/sparql": read_only,
        r"/queries*": read_only,
        r"/id/*": read_only,
        r"/ontology*": read_only,
        r"/vocab/*": read_only,
        r"/graph/*": read_only,
        r"/.well-known/void": read_only,
        r"/dumps/*": read_only,
        r"/openapi.json": read_only,
        r"/store": {"origins": "*", "methods": ["GET", "HEAD", "OPTIONS"]},
    })
