"""Map pages: Folium builders, page views, templates and vendored static assets."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the page blueprint."""
