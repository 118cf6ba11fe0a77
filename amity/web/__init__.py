"""The web layer: one blueprint per entry point; each view parses, calls the core, renders."""

from __future__ import annotations

from flask import current_app

from amity.service import Amity


def amity() -> Amity:
    """The running service's core object (Flask's extension pattern: no import of the app)."""
    return current_app.extensions["amity"]
