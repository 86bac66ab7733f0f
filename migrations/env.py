"""Alembic environment: migrates the database named by the config or GRIDMAP_DATABASE_URL."""

from __future__ import annotations

from alembic import context
from alembic.util import CommandError
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine

from gridmap.core.settings import Settings, SettingsError
from gridmap.storage.models import Base, include_object

config = context.config


def _url_from_env() -> str:
    try:
        return Settings.from_env().database_url
    except SettingsError as exc:
        # The alembic command prints a CommandError as one "FAILED: ..." message and exits 1.
        raise CommandError(str(exc)) from None


url = config.get_main_option("sqlalchemy.url") or _url_from_env()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_object=include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


engine = create_engine(url)
try:
    with engine.connect() as conn:
        _run(conn)
finally:
    engine.dispose()
