"""Flask CLI commands: thin wrappers over spatial/, storage/ and the importers."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the ``flask gridmap ...`` commands."""
