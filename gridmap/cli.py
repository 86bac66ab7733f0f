"""Flask CLI commands (``flask gridmap ...``): thin wrappers over ingest and the demo.

Every import runs in one transaction: on any problem it prints the report, writes nothing and
exits with status 1.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
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

from gridmap.access import accounts, api_keys, audit, auth, retention
from gridmap.core import clock, db
from gridmap.core.errors import GridmapError
from gridmap.core.settings import Settings
from gridmap.demo import loader as demo
from gridmap.demo import shape as demo_shape
from gridmap.grid import ingest
from gridmap.spatial.crs import SpatialInputError
from gridmap.spatial.validate import Problem, ValidationReport
from gridmap.storage import partitions
from gridmap.storage.models import API_KEY_ROLES, USER_ROLES, User

group = AppGroup("gridmap", help="gridmap data commands.")
log = logging.getLogger(__name__)

_crs_option = click.option(
    "--crs",
    required=True,
    help="Coordinate system of the file: EPSG:4326, EPSG:4490, EPSG:4491-4554 (CGCS2000 "
    "Gauss-Krüger), GCJ02 or BD09.",
)
_file = click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
_layer_option = click.option(
    "--layer",
    help="The layer, KML folder or Excel sheet to import. Grid files: every layer when not "
    "given; other files: required when the file has several non-empty layers (the error lists "
    "them).",
)
_encoding_option = click.option(
    "--encoding",
    help="Text encoding of a CSV or a Shapefile's .dbf, e.g. GB18030 (GBK) or UTF-8. Default: "
    "a Shapefile's .cpg, else UTF-8 when the text is UTF-8, else GB18030.",
)


def _bar(items: Any) -> Any:
    """A progress bar over chunks; its total is ``len(items)`` when they have one."""
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


@group.command("worker")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 32),
    help="Jobs run at once by this process (default GRIDMAP_WORKER_CONCURRENCY, 1).",
)
def worker(concurrency: int | None) -> None:
    """Run background jobs (grid file checks and imports, the monthly report, the 三率
    download, the 双报到 table, the service map's imports and refreshes, the GIS exports,
    一张网's layers and overlays) and the scheduled work (the requests' sweep every
    GRIDMAP_SWEEP_MINUTES, the outbox's sender every GRIDMAP_NOTIFY_MINUTES, the hourly pruning
    of uploads never attached after GRIDMAP_FILES_UNATTACHED_HOURS, 一张网's overlays made stale
    by a change of either layer every 10 minutes, the daily month partitions made ahead, pruning
    and audit check) until
    stopped with SIGINT/SIGTERM; any number of workers may run, each job runs once."""
    from gridmap.exports import export_jobs
    from gridmap.grid import import_jobs  # the worker's handlers, by job kind
    from gridmap.jobs import worker as job_worker
    from gridmap.onenet import jobs as onenet_jobs
    from gridmap.party import report_jobs as party_jobs
    from gridmap.requests import rate_jobs
    from gridmap.review import report_jobs
    from gridmap.services import jobs as service_jobs

    settings = current_app.extensions["gridmap.settings"]
    handlers = (
        import_jobs.handlers(settings)
        | report_jobs.handlers(settings)
        | rate_jobs.handlers(settings)
        | export_jobs.handlers(settings)
        | party_jobs.handlers(settings)
        | service_jobs.handlers(settings)
        | onenet_jobs.handlers(settings)
    )
    daily: dict[str, Callable[[Session], object]] = {
        "partitions": partitions.make_ahead,
        "prune": lambda session: _prune(session, settings),
        "verify-audit": _verify_daily,
    }
    concurrency = concurrency or settings.worker_concurrency
    job_worker.run(settings, handlers, daily, scheduled_work(settings), concurrency=concurrency)


def scheduled_work(settings: Settings) -> dict[str, tuple[str, Callable[[Session], object]]]:
    """The worker's work on a schedule of its own, by name: (cron, work)."""
    from gridmap.jobs import worker as job_worker
    from gridmap.notify import sender
    from gridmap.onenet import overlay
    from gridmap.requests import sweeps

    days = settings.archive_unrated_days
    return {
        "sweep": (
            job_worker.every_minutes(settings.sweep_minutes),
            lambda session: sweeps.sweep(session, archive_unrated_days=days),
        ),
        "files": (job_worker.every_minutes(60), _files_prune(settings)),
        "onenet": (
            job_worker.every_minutes(10),
            lambda session: overlay.refresh_stale(session, overlay.Rule.of(settings)),
        ),
        "notify": (
            job_worker.every_minutes(settings.notify_minutes),
            lambda session: sender.send_due(
                session,
                sender.Outlet.of(settings),
                sender.Policy.of(settings),
                batch=settings.notify_batch,
            ),
        ),
    }


@group.command("send-notifications")
def send_notifications() -> None:
    """Deliver the outbox now, until nothing is due (the worker does it every
    GRIDMAP_NOTIFY_MINUTES); prints what became of the messages."""
    from gridmap.notify import sender

    settings = current_app.extensions["gridmap.settings"]
    outlet, policy = sender.Outlet.of(settings), sender.Policy.of(settings)
    total: dict[str, int] = {}
    session = db.get_session()
    while done := sender.send_due(session, outlet, policy, batch=settings.notify_batch):
        total = {k: total.get(k, 0) + done.get(k, 0) for k in total.keys() | done.keys()}
        if set(done) <= {"deferred", "retried"}:
            break
    click.echo(", ".join(f"{k}: {v}" for k, v in sorted(total.items())) or "nothing due")


@group.command("import-grids")
@_file
@_crs_option
@click.option(
    "--redraw",
    is_flag=True,
    help="Replace current grids with the same codes, retire those with status 'retired'.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the full validation report here as GeoJSON (problems and notes as features), "
    "whether the import passes or is refused.",
)
@_layer_option
@_encoding_option
def import_grids(
    path: Path,
    crs: str,
    redraw: bool,
    report_path: Path | None,
    layer: str | None,
    encoding: str | None,
) -> None:
    """Import grids from GeoJSON, Shapefile, GeoPackage or KML after validating them.

    Every layer (KML folder) is read; a grid's level is its level column, else its layer's
    name (社区, 片区/片区网格, 微网格). A layer named 楼栋 (or 楼宇, 建筑, building) holds
    buildings (楼号, 名称, 层数, 单元数): recorded after the grids, all or nothing with them."""
    settings = current_app.extensions["gridmap.settings"]

    written: list[bool] = []

    def write_report(report: ValidationReport) -> None:
        written.append(True)
        if report_path is None:
            if not report.ok:
                click.echo(
                    "完整问题列表: 加 --report FILE.geojson (all problems: --report)", err=True
                )
            return
        text = json.dumps(report.as_geojson(), ensure_ascii=False)
        report_path.write_text(text, encoding="utf-8")
        click.echo(f"报告已写入 (report written to) {report_path}", err=not report.ok)

    def do(session: Session) -> ingest.ImportReport:
        from gridmap.grid.ingest.buildings import import_buildings, split_buildings

        try:
            grids, buildings = split_buildings(
                ingest.read_grid_features(path, layer=layer, encoding=encoding)
            )
            report = ingest.ImportReport("grids")
            if len(grids) or not len(buildings):
                report = ingest.import_grids(
                    session, grids, crs, settings, redraw=redraw, on_report=write_report
                )
            if len(buildings):
                placed = import_buildings(session, buildings, crs)
                report.notes.append(f"buildings: {placed.written}; " + "; ".join(placed.notes))
            return report
        except (GridmapError, SpatialInputError) as exc:
            if not written:  # refused before validation: the report still says why
                detail = str(getattr(exc, "detail", exc))
                problem = Problem("file", None, f"文件无法导入: {detail}", message_en=detail)
                write_report(ValidationReport([problem]))
            raise

    _run_import(do)


@group.command("import-households")
@_file
@_crs_option
@_layer_option
@_encoding_option
@click.option(
    "--row-by-row",
    is_flag=True,
    help="Write each chunk straight into the table (slower; other writers of households "
    "do not wait for the import's end).",
)
def import_households(
    path: Path, crs: str, layer: str | None, encoding: str | None, row_by_row: bool
) -> None:
    """Import households from CSV/Excel (经度,纬度 / lon,lat / x,y columns…) or point
    features, read in chunks within one transaction, staged and moved in bulk at the end."""

    def do(session: Session) -> ingest.ImportReport:
        read = ingest.table_chunks if ingest.is_table(path) else ingest.vector_chunks
        chunks = read(path, layer=layer, encoding=encoding)
        return ingest.import_households(session, chunks, crs, progress=_bar, bulk=not row_by_row)

    _run_import(do)


@group.command("import-service-sites")
@_file
@_crs_option
@_layer_option
@_encoding_option
@click.option("--replace", is_flag=True, help="Remove the sites the file does not list.")
@click.option("--no-refresh", is_flag=True, help="Leave the walking circles to compute later.")
def import_service_sites(
    path: Path, crs: str, layer: str | None, encoding: str | None, replace: bool, no_refresh: bool
) -> None:
    """Import service sites (党群服务中心, 党群服务站, 助餐点…) from point features with
    code, name, kind[, address, opening_hours, services]; then compute the walking circles."""
    from gridmap.services import circles, sites

    settings = current_app.extensions["gridmap.settings"]

    def do(session: Session) -> ingest.ImportReport:
        frame = ingest.read_features(path, layer=layer, encoding=encoding)
        report = sites.import_sites(session, frame, crs, replace=replace)
        if not no_refresh:
            circles.refresh(session, settings)
        return report

    _run_import(do)


@group.command("import-walk-network")
@_file
@click.option("--crs", help="Coordinate system of a road layer (an .osm.pbf is WGS 84).")
@_layer_option
@_encoding_option
@click.option("--no-refresh", is_flag=True, help="Leave the walking circles to compute later.")
def import_walk_network(
    path: Path, crs: str | None, layer: str | None, encoding: str | None, no_refresh: bool
) -> None:
    """Replace the walking network by an OpenStreetMap extract (.osm.pbf, through osmium) or a
    road layer (Shapefile, GeoJSON, GeoPackage): topology built, connected pieces reported;
    then compute the walking circles."""
    from gridmap.services import circles, network

    settings = current_app.extensions["gridmap.settings"]
    with _one_transaction() as session:
        if path.name.lower().endswith(".pbf"):
            lines, origin = network.osm_lines(path), "osm"
        else:
            if not crs:
                raise click.UsageError("a road layer needs --crs")
            lines, origin = network.layer_lines(path, crs, layer=layer, encoding=encoding), "file"
        check = network.import_network(session, lines, origin)
        _audit(session, "import.walk_network", **check.as_dict())
        if not no_refresh:
            circles.refresh(session, settings)
    _echo_check(check.as_dict())


def _echo_check(check: dict[str, Any]) -> None:
    click.echo(
        f"walk network: {check['nodes']} nodes, {check['edges']} edges, "
        f"{check['components']} connected piece(s)"
    )
    if check["detached_nodes"]:
        click.echo(
            f"  - {check['detached_nodes']} node(s) outside the largest piece, in pieces of "
            f"{', '.join(map(str, check['detached_pieces']))} node(s)",
            err=True,
        )


@group.command("check-walk-network")
def check_walk_network() -> None:
    """Count the walking network's connected pieces (pgr_connectedComponents)."""
    from gridmap.storage import walk_network

    with _one_transaction() as session:
        check = walk_network.check_network(session)
    _echo_check(check.as_dict())


@group.command("refresh-service-map")
def refresh_service_map() -> None:
    """Compute the walking circles, every household's walk and the candidate sites anew."""
    from gridmap.services import circles

    settings = current_app.extensions["gridmap.settings"]
    with _one_transaction() as session:
        found = circles.refresh(session, settings)
        _audit(session, "service_map.refresh", **found)
    click.echo(f"service map: {found['sites_on_network']} site(s) on the network")


@group.command("import-people")
@_file
@click.option("--crs", help="Coordinate system of home_lon/home_lat, when the file has them.")
@_layer_option
@_encoding_option
def import_people(path: Path, crs: str | None, layer: str | None, encoding: str | None) -> None:
    """Import people from CSV/Excel: id, name, phone, kind, home_community_code[, home_lon,
    home_lat]."""
    _run_import(
        lambda s: ingest.import_people(
            s, ingest.read_table(path, layer=layer, encoding=encoding), crs
        )
    )


@group.command("import-assignments")
@_file
@_layer_option
@_encoding_option
def import_assignments(path: Path, layer: str | None, encoding: str | None) -> None:
    """Import assignments from CSV/Excel: person_id, grid_code, role, start_date, end_date."""
    _run_import(
        lambda s: ingest.import_assignments(
            s, ingest.read_table(path, layer=layer, encoding=encoding)
        )
    )


@group.command("import-coverage")
@_file
@_layer_option
@_encoding_option
def import_coverage(path: Path, layer: str | None, encoding: str | None) -> None:
    """Import coverage (党员分片包户) from CSV/Excel: person_id, household_id."""
    _run_import(
        lambda s: ingest.import_coverage(s, ingest.read_table(path, layer=layer, encoding=encoding))
    )


@group.command("derive-buildings")
@click.option(
    "--grid",
    "prefix",
    default="",
    help="Only the micro-grids whose code starts with this (a street, community or zone).",
)
def derive_buildings(prefix: str) -> None:
    """Record the buildings (楼栋) and units the households' addresses name where none is
    recorded yet (a footprint around their households), and link the households to them."""
    from gridmap.party import buildings as party_buildings

    def do(session: Session) -> ingest.ImportReport:
        created, linked = party_buildings.derive_from_households(session, prefix)
        report = ingest.ImportReport("buildings", written=len(created))
        report.notes.append(f"{linked} household(s) linked to their building")
        return report

    _run_import(do)


@group.command("load-demo")
@click.option(
    "--households",
    type=click.IntRange(min=1),
    help="Load whole communities until they hold at least this many households "
    "(default: the whole district, about 210 000; knobs in gridmap/demo/shape.py).",
)
@click.option("--seed", default=1, show_default=True, type=int)
@click.option(
    "--requests",
    "request_count",
    default=demo_shape.DEFAULT.requests,
    show_default=True,
    type=click.IntRange(min=0),
    help="Residents' requests of the last 12 months generated over the city (gen-requests).",
)
@click.option("--if-empty", is_flag=True, help="Do nothing when grids are already loaded.")
def load_demo(households: int | None, seed: int, request_count: int, if_empty: bool) -> None:
    """Load the Dongcheng demo: its grid, generated households, people, coverage and a year
    of residents' requests; then print the district's shape as measured in the database."""
    from gridmap.demo import generator as synth  # heavy: loaded by the commands that use it
    from gridmap.demo import summary

    with _one_transaction() as session:
        if if_empty and demo.has_data(session):
            click.echo("demo: the database already holds grids; nothing loaded")
            return
        settings = current_app.extensions["gridmap.settings"]
        reports = demo.load(
            session, households=households, seed=seed, settings=settings, progress=_bar
        )
        made = synth.generate_requests(session, count=request_count, seed=seed, progress=_bar)
        reports.append(ingest.ImportReport("residents' requests", written=made.requests))
        _audit(session, "import.demo", **{r.kind: r.written for r in reports})
        found = summary.measure(session)
    for report in reports:
        click.echo(report.as_text())
    click.echo(summary.as_text(found, demo_shape.DEFAULT))


@group.command("gen-requests")
@click.option("--count", default=2_000_000, show_default=True, type=click.IntRange(min=0))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--months", default=12, show_default=True, type=click.IntRange(1, 60))
@click.option("--database-url", help="Write there instead of the app's database (one transaction).")
def gen_requests(count: int, seed: int, months: int, database_url: str | None) -> None:
    """Fill the demo city with synthetic residents' requests and their timelines."""
    from gridmap.demo import generator as synth

    if database_url:
        try:
            report = synth.run(database_url, count=count, seed=seed, months=months, progress=_bar)
        except GridmapError as exc:
            click.echo(f"error: {exc.detail}", err=True)
            raise SystemExit(1) from None
    else:
        with _one_transaction() as session:
            report = synth.generate_requests(
                session, count=count, seed=seed, months=months, progress=_bar
            )
            _audit(session, "import.requests", written=report.requests, events=report.events)
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
        accounts.set_password(session, user_id, password, admins_too=True)
        _audit(session, "user.password", username=username)
    click.echo(f"password of {username} reset; its sessions ended")


@group.command("issue-open311-key")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(API_KEY_ROLES))
@click.option("--scope", "scope_code", help="Grid code or its 6/9-digit prefix.")
@click.option("--person-id", type=int, help="The member's person id (role member).")
@click.option("--by", "admin", required=True, help="The system administrator issuing it.")
def issue_open311_key(
    name: str, role: str, scope_code: str | None, person_id: int | None, admin: str
) -> None:
    """Issue an Open311 API key to client application NAME; prints the key once."""
    with _one_transaction() as session:
        by = accounts.user_id(session, admin)
        issued = api_keys.issue(
            session, name, role, scope_code=scope_code, person_id=person_id, created_by=by
        )
        _audit(session, "api_key.issue", id=issued.id, name=name, role=role, scope=scope_code)
    click.echo(f"API key {issued.id} for {name!r} ({role}): {issued.key}")


@group.command("revoke-open311-key")
@click.argument("key_id", type=int)
@click.option("--by", "admin", required=True, help="The system administrator revoking it.")
def revoke_open311_key(key_id: int, admin: str) -> None:
    """Revoke Open311 API key KEY_ID."""
    with _one_transaction() as session:
        api_keys.revoke(session, key_id, by=accounts.user_id(session, admin))
        _audit(session, "api_key.revoke", id=key_id)
    click.echo(f"API key {key_id} revoked")


def _prune(session: Session, settings: Settings) -> dict[str, int]:
    from gridmap.files import stores
    from gridmap.public import service as public_channel

    removed = retention.purge(session, settings, clock.now())
    forgotten = public_channel.forget(session, stores.from_settings(settings), clock.now())
    removed |= {f"{table} (公众上报)": count for table, count in forgotten.items()}
    _audit(session, "retention.prune", **removed)
    return removed


def _files_prune(settings: Settings) -> Callable[[Session], int]:
    """The worker's hourly work: delete the uploads never attached (rows and bytes)."""
    from gridmap.files import service as files
    from gridmap.files import stores

    objects = stores.from_settings(settings)
    older_than = dt.timedelta(hours=settings.files_unattached_hours)
    return lambda session: files.prune_unattached(session, objects, older_than)


@group.command("prune")
def prune() -> None:
    """Delete what is past its retention window: idempotency keys, ended logins, audit rows,
    messages done with (see ``gridmap.access.retention``), the public channel's abandoned
    drafts and captchas (``gridmap.public.service.forget``); then the month partitions of the
    coming months are made where missing (``gridmap.storage.partitions``), as the worker does
    daily."""
    with _one_transaction() as session:
        removed = _prune(session, current_app.extensions["gridmap.settings"])
        made = partitions.make_ahead(session)
    for table, count in removed.items():
        click.echo(f"{table}: {count} rows removed")
    click.echo(f"month partitions made ahead: {made}")


@group.command("verify-audit")
def verify_audit() -> None:
    """Recompute the audit log's hash chain from its anchor to its head: exit 0 with "N rows,
    chain intact", or 1 naming the first broken row and what is wrong (changed, missing,
    inserted out of chain)."""
    verdict = audit.verify(db.get_session())
    click.echo(verdict.as_text(), err=not verdict.intact)
    if not verdict.intact:
        raise SystemExit(1)


def _verify_daily(session: Session) -> str:
    """The worker's daily check: a broken chain is logged as an error."""
    verdict = audit.verify(session)
    if not verdict.intact:
        log.error("audit log: %s", verdict.as_text())
    return verdict.as_text()


def _scope_of(session: Session, username: str) -> auth.Scope:
    """The scope of an account that may export reports."""
    user = session.get(User, accounts.user_id(session, username))
    if user is None or auth.EXPORT not in auth.CAPABILITIES.get(user.role or "", frozenset()):
        raise GridmapError(f"account {username!r} may not export reports")
    return auth.scope_of(user)


@group.command("review-report")
@click.option("--month", required=True, help="The month reviewed, YYYY-MM.")
@click.option("--grid", "grid_code", help="The area: a grid code (default: the whole scope).")
@click.option("--scope-user", help="Report as this account sees it (its scope).")
@click.option("--all", "everything", is_flag=True, help="Every grid (the default).")
@click.option(
    "--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Directory."
)
def review_report_command(
    month: str, grid_code: str | None, scope_user: str | None, everything: bool, out: Path
) -> None:
    """Write the monthly review report (一月一研判报告) as OUT/review-<area>-<month>.html and
    .xlsx."""
    from gridmap.requests import rates
    from gridmap.review import report as review_report  # matplotlib: only for the report

    if scope_user and everything:
        raise click.UsageError("give --scope-user or --all, not both")
    settings = current_app.extensions["gridmap.settings"]
    with _one_transaction() as session:
        scope = (
            _scope_of(session, scope_user) if scope_user else review_report.every_county(session)
        )
        report = review_report.monthly(
            session,
            scope,
            month,
            grid_code,
            weights=settings.weights,
            board_size=settings.rate_board_size,
            min_filed=settings.rate_board_min_filed,
            formula=rates.Formula.of(settings),
        )
        out.mkdir(parents=True, exist_ok=True)
        written = [out / f"{report.file_stem}.{suffix}" for suffix in ("html", "xlsx")]
        written[0].write_text(review_report.to_html(report), encoding="utf-8")
        written[1].write_bytes(review_report.to_xlsx(report))
        audit.record(
            session,
            "export",
            username=_cli_user(),
            object_type="review_report",
            object_id=report.file_stem,
            origin=auth.Origin(user_agent="flask cli"),
            detail={"month": month, "area": report.area.code, "scope_user": scope_user},
        )
    for path in written:
        click.echo(f"written {path}")


def init_app(app: Flask) -> None:
    """Register the ``flask gridmap ...`` commands."""
    app.cli.add_command(group)
