"""Map pages: Folium builders, page views, templates and vendored static assets."""

from __future__ import annotations

from flask import Flask

from gridmap.web.views import bp


def init_app(app: Flask) -> None:
    """Register the page blueprint: the map page at ``/`` and the assets under ``/static``."""
    app.register_blueprint(bp)
