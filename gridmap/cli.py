"""Flask CLI commands (``flask gridmap ...``): thin wrappers over ingest and the demo.

Every import runs in one transaction: on any problem it prints the report, writes nothing and
exits with status 1.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy.orm import Session
from tqdm import tqdm

from gridmap import accounts, audit, auth, db, demo, ingest
from gridmap.errors import GridmapError
from gridmap.spatial.crs import SpatialInputError
from gridmap.storage.models import USER_ROLES

group = AppGroup("gridmap", help="gridmap data commands.")

_crs_option = click.option(
    "--crs",
    required=True,
    help="Coordinate system of the file: EPSG:4326, EPSG:4490, EPSG:4491-4554 (CGCS2000 "
    "Gauss-Krüger), GCJ02 or BD09.",
)
_file = click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))


def _bar(items: Any) -> Any:
    return tqdm(items, unit="chunk", leave=False, file=sys.stderr)


@contextmanager
def _one_transaction() -> Iterator[Session]:
    """Commit at the end, or roll back, print the report and exit 1."""
    session = db.get_session()
    try:
        yield session
        session.commit()
    except (GridmapError, SpatialInputError) as exc:
        session.rollback()
        click.echo(f"error: {getattr(exc, 'detail', exc)}", err=True)
        raise SystemExit(1) from None


def _cli_user() -> str:
    return f"cli:{getpass.getuser()}"


def _audit(session: Session, action: str, **detail: Any) -> None:
    audit.record(
        session,
        action,
        username=_cli_user(),
        origin=auth.Origin(user_agent="flask cli"),
        detail=detail,
    )


def _run_import(do: Callable[[Session], ingest.ImportReport]) -> None:
    with _one_transaction() as session:
        report = do(session)
        _audit(session, f"import.{report.kind}", written=report.written, closed=report.closed)
    click.echo(report.as_text())


@group.command("migrate")
def migrate() -> None:
    """Apply the database migrations (alembic upgrade head)."""
    db.migrate(current_app.extensions["gridmap.settings"].migrate_database_url)


@group.command("import-grids")
@_file
@_crs_option
@click.option("--redraw", is_flag=True, help="Close current grids with the same codes.")
def import_grids(path: Path, crs: str, redraw: bool) -> None:
    """Import grids from GeoJSON, Shapefile, GeoPackage or KML after validating them."""
    settings = current_app.extensions["gridmap.settings"]
    _run_import(
        lambda s: ingest.import_grids(s, ingest.read_features(path), crs, settings, redraw=redraw)
    )


@group.command("import-households")
@_file
@_crs_option
def import_households(path: Path, crs: str) -> None:
    """Import households from CSV (lon,lat or x,y columns) or a GeoJSON of points."""

    def do(session: Session) -> ingest.ImportReport:
        frame = (
            ingest.read_table(path) if path.suffix.lower() == ".csv" else ingest.read_features(path)
        )
        return ingest.import_households(session, frame, crs, progress=_bar)

    _run_import(do)


@group.command("import-people")
@_file
@click.option("--crs", help="Coordinate system of home_lon/home_lat, when the file has them.")
def import_people(path: Path, crs: str | None) -> None:
    """Import people from CSV: id, name, phone, kind, home_community_code[, home_lon, home_lat]."""
    _run_import(lambda s: ingest.import_people(s, ingest.read_table(path), crs))


@group.command("import-assignments")
@_file
def import_assignments(path: Path) -> None:
    """Import assignments from CSV: person_id, grid_code, role, start_date, end_date."""
    _run_import(lambda s: ingest.import_assignments(s, ingest.read_table(path)))


@group.command("import-coverage")
@_file
def import_coverage(path: Path) -> None:
    """Import coverage (党员分片包户) from CSV: person_id, household_id."""
    _run_import(lambda s: ingest.import_coverage(s, ingest.read_table(path)))


@group.command("load-demo")
@click.option("--households", default=demo.DEFAULT_HOUSEHOLDS, show_default=True, type=int)
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--if-empty", is_flag=True, help="Do nothing when grids are already loaded.")
def load_demo(households: int, seed: int, if_empty: bool) -> None:
    """Load the Dongcheng demo: its grid, generated households, people and coverage."""
    with _one_transaction() as session:
        if if_empty and demo.has_data(session):
            click.echo("demo: the database already holds grids; nothing loaded")
            return
        settings = current_app.extensions["gridmap.settings"]
        reports = demo.load(
            session, households=households, seed=seed, settings=settings, progress=_bar
        )
        _audit(session, "import.demo", **{r.kind: r.written for r in reports})
    for report in reports:
        click.echo(report.as_text())


@group.command("create-user")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(USER_ROLES))
@click.option("--scope", "scope_code", help="Grid code or its 6/9-digit prefix (data roles).")
@click.option("--person-id", type=int, help="The member's person id (member, grid worker).")
@click.password_option(help="Asked for when not given (never pass it on a shared machine).")
def create_user(
    username: str, role: str, scope_code: str | None, person_id: int | None, password: str
) -> None:
    """Create an account with its role; administrators are only made here."""
    with _one_transaction() as session:
        user = accounts.create_user(session, username, password)
        accounts.grant_role(
            session, user.id, role, scope_code=scope_code, person_id=person_id, admins_too=True
        )
        _audit(session, "user.create", username=user.username, role=role, scope=scope_code)
    click.echo(f"account {user.username} ({role}) created")


@group.command("reset-password")
@click.argument("username")
@click.password_option()
def reset_password(username: str, password: str) -> None:
    """Set a new password for any account, administrators included."""
    with _one_transaction() as session:
        user_id = accounts.user_id(session, username)
        accounts.reset_password(session, user_id, password, admins_too=True)
        _audit(session, "user.password", username=username)
    click.echo(f"password of {username} reset; its sessions ended")


@group.command("prune-audit")
def prune_audit() -> None:
    """Delete audit rows past the retention period (GRIDMAP_AUDIT_RETENTION_DAYS, ≥ 180)."""
    keep = current_app.extensions["gridmap.settings"].audit_retention_days
    with _one_transaction() as session:
        removed = audit.prune(session, keep)
        _audit(session, "audit.prune", removed=removed, keep_days=keep)
    click.echo(f"{removed} audit rows older than {max(keep, 180)} days removed")


def init_app(app: Flask) -> None:
    """Register the ``flask gridmap ...`` commands."""
    app.cli.add_command(group)
