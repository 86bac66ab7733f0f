"""Typed settings read from ``GRIDMAP_*`` environment variables (pydantic-settings).

Every field is typed and bounded; a wrong value stops the start with a :class:`SettingsError`
that has one line per bad variable, naming it and saying what it may be. Nothing is read at
import: ``create_app`` calls :meth:`Settings.from_env`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Final, Literal, get_args, get_origin
from urllib.parse import urlsplit

import click
from limits import parse_many
from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

BasemapCrs = Literal["wgs84", "gcj02", "none"]
Environment = Literal["development", "production"]

_DEFAULT_BASEMAP = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
#: The development secret: signs nothing worth protecting, and is refused in production.
DEVELOPMENT_SECRET_KEY = "dev-only-secret-change-me"
_MIN_SECRET_LENGTH = 16
_PREFIX = "GRIDMAP_"
#: The rate limits' stores whose clients are installed (``redis`` in requirements.txt).
_RATELIMIT_STORES = ("memory", "redis", "rediss", "redis+unix")
#: The settings that are URLs and may hold a password.
_URLS = ("database_url", "migrate_database_url", "replica_database_url", "ratelimit_storage_uri")


def _without_password(url: str) -> str:
    """``url`` with its password, if it has one, replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()


class SettingsError(click.ClickException, ValueError):
    """Bad ``GRIDMAP_*`` settings: one line per bad variable.

    A ``ValueError`` for code that builds settings; a ``ClickException`` so that a CLI start
    (``flask gridmap ...``, which builds the app first) prints ``Error: <the lines>`` and exits
    with status 1 instead of a traceback.
    """

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Settings(BaseSettings):
    """Everything that differs between deployments.

    Each field maps to ``GRIDMAP_<FIELD NAME IN UPPER CASE>``, which only :meth:`from_env`
    reads: ``Settings(max_page_size=500)`` takes the given values and the defaults, never the
    environment, so tests and scripts get what they ask for. Instances are frozen; use
    :meth:`replace` for a validated copy with changes.
    """

    model_config = SettingsConfigDict(
        env_prefix=_PREFIX, frozen=True, extra="forbid", allow_inf_nan=False
    )

    #: ``production`` refuses the development secret key; ``development`` (the default, and
    #: what ``./scripts/run`` starts) accepts it.
    env: Environment = "development"
    #: The application's connection: the ``gridmap_app`` role, which may not alter the audit log.
    database_url: str = "postgresql+psycopg://gridmap_app@127.0.0.1:54329/gridmap"
    #: The owner's connection, for migrations (and for creating test databases); defaults to
    #: ``database_url``, which then must be allowed to create roles and tables.
    migrate_database_url: str = ""
    #: A streaming replica of ``database_url`` (same roles, read-only) that serves the views
    #: marked ``@read_only`` (review, tiles) once it has replayed what the primary had when
    #: the request began; empty (the default): everything on ``database_url``.
    replica_database_url: str = ""
    #: Basemap tile URL template, its attribution and the CRS its tiles are drawn in.
    #: ``basemap_crs="none"`` shows no basemap at all (an intranet without a tile server).
    basemap_url: str = _DEFAULT_BASEMAP
    basemap_attribution: str = "© OpenStreetMap contributors"
    basemap_crs: BasemapCrs = "wgs84"
    #: Largest page of features one API call returns.
    max_page_size: int = Field(5000, ge=1)
    #: Largest request body accepted, in bytes.
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1)
    #: Largest grid file the import page accepts, in bytes (its request may be this large).
    max_upload_bytes: int = Field(50 * 1024 * 1024, ge=1)
    #: Jobs each ``flask gridmap worker`` process runs at once.
    worker_concurrency: int = Field(1, ge=1, le=32)
    #: Tolerance in metres when checking that a child grid lies inside its parent.
    inside_tolerance_m: float = Field(1.0, ge=0)
    #: Smallest gap or overlap, in square metres, that grid validation reports.
    sliver_area_m2: float = Field(1.0, ge=0)
    #: Gaps and overlaps at most this wide (metres) are digitising noise however long they are
    #: (the sliver along a 5 km shared edge is millimetres wide); wider ones are reported.
    sliver_width_m: float = Field(0.2, ge=0, le=5)
    #: On grid import, a child's corner this close (metres) to its parent's edge is moved onto
    #: it and the edge shares it (a T-junction); reported as a note. 0 turns snapping off.
    snap_tolerance_m: float = Field(0.2, ge=0, le=1)
    #: Neighbour households one 党员中心户 looks after, at most (the seeds name the post
    #: but no number; 10 is a common local rule).
    central_household_neighbours: int = Field(10, ge=1, le=50)
    #: 一张网: a foreign cell and our unit align when their outlines are at most this far
    #: apart (metres, the Hausdorff distance of the boundaries).
    onenet_tolerance_m: float = Field(5.0, gt=0, le=100)
    #: 一张网: a piece of a unit or of a cell smaller than this share is digitising noise,
    #: not a cut (0.05: 5 %).
    onenet_min_share: float = Field(0.05, ge=0, lt=0.5)
    secret_key: str = Field(DEVELOPMENT_SECRET_KEY, repr=False)
    #: Sessions end after this long without a request, and this long after login in any case.
    idle_timeout_minutes: int = Field(30, ge=1)
    absolute_timeout_hours: int = Field(12, ge=1)
    #: Failed logins of one username from one address before it must wait (1 s, then twice
    #: as long after each further failure), and the longest wait.
    login_free_failures: int = Field(5, ge=1)
    login_max_delay_seconds: int = Field(900, ge=1)
    #: A one-time password from an administrator's reset logs in for this long (1 h to 7 days).
    one_time_password_hours: int = Field(24, ge=1, le=24 * 7)
    #: Reverse proxies in front of the app whose X-Forwarded-For/-Proto are trusted (werkzeug
    #: ProxyFix): 0 (the default) trusts none and takes the socket's address.
    trusted_proxies: int = Field(0, ge=0, le=5)
    #: Audit rows younger than this are never pruned (never below 180 days).
    audit_retention_days: int = Field(180, ge=180)
    #: An Idempotency-Key and its stored answer (which may quote a resident's words) are kept
    #: this long: a phone retries within minutes, or within a day when it was offline.
    idempotency_keep_hours: int = Field(48, ge=1, le=24 * 30)
    #: Messages done with (sent, refused, given up) are deleted this long after they were
    #: written (never fewer than 30 days), with their deliveries; a message still due is kept.
    outbox_keep_days: int = Field(180, ge=30)
    #: Where rate-limit counters live: ``memory://`` counts per worker process; a Redis URI
    #: (``redis://host:6379``, ``rediss://…``, ``redis+unix:///path/to/socket``) shares them
    #: between workers and hosts (``./scripts/run`` starts a private Redis and names it here).
    ratelimit_storage_uri: str = "memory://"
    login_rate_limit: str = "10 per minute"
    write_rate_limit: str = "120 per minute"
    #: Weights of the response, resolution and satisfaction rates in the composite score of
    #: 三率 (``gridmap.requests.rates``): three numbers >= 0, "response,resolution,satisfaction",
    #: scaled to sum to 1. The default is a public district tool's 10 % / 50 % / 40 %.
    rate_weights: str = "0.1,0.5,0.4"
    #: Size of each ranking board (红黑榜): a whole number N >= 1 puts the best N on the red
    #: board and the worst N on the black one; a share 0 < s < 1 puts the best and worst
    #: ceil(s x ranked rows) there.
    rate_board_size: float = 3.0
    #: Fewest requests filed in the period for a unit to be ranked on the boards (红黑榜);
    #: below it its rates are shown, not ranked (why 5: ``gridmap.requests.rates``).
    rate_board_min_filed: int = Field(5, ge=1)
    #: The scheduler's sweep (``gridmap.requests.sweeps``, run by ``flask gridmap worker``)
    #: runs every this many minutes: it raises 红黄牌, escalates lapsed stages where the
    #: category says so, writes reminders and archives unrated requests.
    sweep_minutes: int = Field(1, ge=1, le=60)
    #: How often the worker's sender delivers the outbox (gridmap.notify), in minutes.
    notify_minutes: int = Field(1, ge=1, le=60)
    #: ``log``: every message is only recorded (the demo and tests, readable on the sent
    #: messages page); ``live``: SMS through Alibaba Cloud's SendSms, WeCom group robots.
    notify_mode: Literal["log", "live"] = "log"
    #: Non-urgent SMS and WeCom messages wait out these hours (Beijing time, ``HH:MM-HH:MM``,
    #: empty for none).
    notify_quiet_hours: str = Field(
        "22:00-07:00", pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9])?$"
    )
    #: Retries: the first waits this long, each next one twice as long up to the maximum.
    notify_backoff_seconds: int = Field(60, ge=1, le=3600)
    notify_backoff_max_seconds: int = Field(3600, ge=1, le=86400)
    #: Tries before a message is given up.
    notify_max_attempts: int = Field(8, ge=1, le=100)
    #: Messages one run of the sender delivers at most.
    notify_batch: int = Field(500, ge=1, le=100000)
    notify_timeout_seconds: float = Field(10.0, gt=0, le=120)
    #: Alibaba Cloud SMS (短信服务, API ``SendSms`` 2017-05-25, RPC signature HMAC-SHA1).
    sms_endpoint: str = "https://dysmsapi.aliyuncs.com/"
    sms_access_key_id: str = ""
    sms_access_key_secret: str = Field("", repr=False)
    sms_sign_name: str = ""
    #: The approved template, with the variables ``${id}`` and ``${content}``.
    sms_template: str = ""
    #: A completed request the resident has not rated is archived by the sweep this many days
    #: after completion (and never before its category's 回访 deadline, when it has one).
    archive_unrated_days: int = Field(7, ge=1, le=365)
    #: 解决率 (``gridmap.requests.rates``): ``answers`` counts the 已解决 answers of 回访 over
    #: the answered requests, as Beijing publishes it; ``completion``, the old rate of the
    #: handlers' own completions by the due date, for comparison.
    rate_resolution: Literal["answers", "completion"] = "answers"
    #: The weight of a 基本满意 answer in 满意率 (a 满意 counts 1).
    rate_basically_weight: float = Field(0.9, ge=0, le=1)
    #: Urgency (``gridmap.requests.service``): the share of every stage limit a request of each
    #: level gets, "一般,紧急,特急" (normal, urgent, critical), each above 0 and at most 1.
    urgency_factors: str = "1,0.5,0.25"
    #: A patrol reaches a household its cleaned track passes within this many metres
    #: (``gridmap.storage.patrols``); a check-in always reaches it.
    pass_by_metres: float = Field(30.0, gt=0, le=1000)
    #: 双报到 (``gridmap.party``): a member's check-in confirms attendance within this many
    #: metres of the activity's place (measured as a patrol's check-in is), and the quarterly
    #: rule every in-service member is held to (每季度服务不少于2次、时长不少于6个小时).
    party_check_in_metres: float = Field(200.0, gt=0, le=5000)
    party_quarter_services: int = Field(2, ge=0, le=100)
    party_quarter_hours: float = Field(6.0, ge=0, le=1000)
    #: Track cleaning drops points reached faster than this (m/s) as teleport jumps: far
    #: above walking or cycling, below any GPS jump worth keeping (``gridmap.spatial.tracks``).
    track_max_speed_mps: float = Field(30.0, gt=0, le=1000)
    #: Seconds a balanced division (党员分片包户, ``gridmap.spatial.balance``) may spend
    #: solving; past it the best division found is proposed, which covers every household
    #: when capacity suffices however short the limit (only balance and distance suffer).
    division_time_limit_seconds: float = Field(20.0, gt=0, le=600)
    #: Open311 GeoReport v2 reads (services, requests, tokens) answer callers without a
    #: login or api_key, over the whole deployment with personal data masked; off, they need
    #: a login or an api_key and answer in its scope.
    open311_public_read: bool = False
    #: Where uploaded photos are kept (``gridmap.files.stores``): ``disk``, the directory
    #: ``files_dir`` (default ``var/files`` of the checkout), or ``s3``, a bucket of any
    #: S3-compatible store (``s3_endpoint_url``, ``s3_bucket``, ``s3_access_key``,
    #: ``s3_secret_key``, ``s3_region``, and ``s3_prefix`` before every key).
    file_store: Literal["disk", "s3"] = "disk"
    files_dir: str = ""
    s3_endpoint_url: str = ""
    s3_bucket: str = "gridmap-files"
    s3_access_key: str = Field("", repr=False)
    s3_secret_key: str = Field("", repr=False)
    s3_region: str = "us-east-1"
    s3_prefix: str = Field("", max_length=200, pattern=r"^[A-Za-z0-9._/-]*$")
    #: Largest photo upload, in bytes, and most pixels a photo may decode to (a 20 KB
    #: "decompression bomb" can claim 50,000 × 50,000 pixels).
    max_photo_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    max_photo_pixels: int = Field(40_000_000, ge=10_000)
    #: The residents' public channel (公众上报, ``gridmap.public``): a code's life and wrong
    #: guesses; codes asked for by one phone or from one address within the window before
    #: an image captcha is required; photos per filing and their size; rate limits per
    #: client address (codes, filings, reads and ratings) and per phone (codes).
    public_code_minutes: int = Field(5, ge=1, le=30)
    public_code_max_attempts: int = Field(5, ge=1, le=20)
    public_captcha_after: int = Field(3, ge=0, le=100)
    public_captcha_window_minutes: int = Field(60, ge=1, le=24 * 60)
    public_max_photos: int = Field(4, ge=0, le=9)
    public_max_photo_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    public_code_rate_limit: str = "10 per hour"
    public_phone_rate_limit: str = "5 per hour"
    public_write_rate_limit: str = "30 per hour"
    public_read_rate_limit: str = "60 per minute"
    #: An upload still attached to nothing this many hours after it came (a form given up,
    #: a write refused) is deleted, row and bytes, by the worker's hourly ``files`` job.
    files_unattached_hours: int = Field(24, ge=1, le=24 * 365)
    #: The service map (15分钟便民服务圈, ``gridmap.services``): walking speed in metres per
    #: second (1.2 m/s, a common planning figure for older walkers), the time bands of the
    #: walking circles in minutes (the last one decides whether a household is covered), how far
    #: (metres) a home or a site may lie from the street it is reached by, and how many
    #: candidate sites the maximal-coverage analysis proposes.
    walking_speed_mps: float = Field(1.2, gt=0.2, le=3)
    service_minutes: str = Field("5,10,15", pattern=r"^[1-9][0-9]?(,[1-9][0-9]?){0,4}$")
    service_access_m: float = Field(150.0, ge=0, le=1000)
    service_candidates: int = Field(5, ge=1, le=50)
    #: Password of the demo accounts created with the demo data (demo only).
    demo_password: str = Field("gridmap-demo", repr=False)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            # pydantic's report names fields and repeats URLs; the operator set variables.
            raise SettingsError(
                [_problem(e, type(self).model_fields) for e in exc.errors()]
            ) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments only: the environment is read by :meth:`from_env` alone."""
        return (init_settings,)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``GRIDMAP_*`` variables, falling back to the defaults.

        Raises :class:`SettingsError` naming every variable with a wrong value.
        """
        return cls(**_Variables(cls, os.environ if environ is None else environ)())

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes``, validated like a new instance (``model_copy`` is not).

        Values that were defaulted are defaulted again (``migrate_database_url`` follows a
        new ``database_url``).
        """
        return type(self)(**{**self.model_dump(include=self.model_fields_set), **changes})

    @property
    def walking_minutes(self) -> tuple[int, ...]:
        """The bands of the walking circles, ascending (``service_minutes``)."""
        return tuple(sorted({int(m) for m in self.service_minutes.split(",")}))

    @property
    def weights(self) -> tuple[float, float, float]:
        """``rate_weights`` parsed: (response, resolution, satisfaction), summing to 1."""
        return parse_weights(self.rate_weights)

    def __repr_args__(self) -> Any:
        """What ``repr`` shows: the secrets are left out (``repr=False``) and the URLs' passwords
        masked, so that a logged or printed instance never carries one."""
        for name, value in super().__repr_args__():
            yield name, _without_password(value) if name in _URLS else value

    @field_validator("database_url", "migrate_database_url", "replica_database_url")
    @classmethod
    def _postgresql_url(cls, url: str, info: ValidationInfo) -> str:
        if info.field_name == "migrate_database_url" and not url:
            return str(info.data.get("database_url", ""))
        if info.field_name == "replica_database_url" and not url:
            return url
        try:
            backend = make_url(url).get_backend_name()
        except ArgumentError:
            backend = ""
        if backend != "postgresql":
            # The URL is not repeated: it may hold a password.
            raise ValueError(
                f"{_variable(info.field_name)} must be a PostgreSQL URL such as"
                " postgresql+psycopg://user:password@host:5432/gridmap"
            )
        return url

    @field_validator("s3_endpoint_url")
    @classmethod
    def _s3_endpoint(cls, url: str, info: ValidationInfo) -> str:
        web = urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc
        if info.data.get("file_store") == "s3" and not web:
            raise ValueError(
                "GRIDMAP_S3_ENDPOINT_URL must be the http(s) URL of the S3-compatible store"
                " (e.g. http://127.0.0.1:8333) when GRIDMAP_FILE_STORE=s3"
            )
        return url

    @field_validator("secret_key")
    @classmethod
    def _no_development_secret_in_production(cls, key: str, info: ValidationInfo) -> str:
        if info.data.get("env") == "production" and (
            key == DEVELOPMENT_SECRET_KEY or len(key) < _MIN_SECRET_LENGTH
        ):
            raise ValueError(
                f"GRIDMAP_SECRET_KEY must be a random value of at least {_MIN_SECRET_LENGTH}"
                " characters when GRIDMAP_ENV=production, not the development key or a short"
                " one (e.g. python3 -c 'import secrets; print(secrets.token_hex())')"
            )
        return key

    @field_validator("basemap_url")
    @classmethod
    def _tile_template(cls, url: str) -> str:
        parts = urlsplit(url)
        web = parts.scheme in ("http", "https") and parts.netloc
        tiles = all(f"{{{axis}}}" in url for axis in "zx") and ("{y}" in url or "{-y}" in url)
        if not ((web or url.startswith("/")) and tiles):
            raise ValueError(
                "GRIDMAP_BASEMAP_URL must be an http(s) URL or a /path with {z}, {x} and {y},"
                f" such as {_DEFAULT_BASEMAP}; not {url!r}"
            )
        return url

    @field_validator("ratelimit_storage_uri")
    @classmethod
    def _storage_uri(cls, uri: str) -> str:
        if urlsplit(uri).scheme not in _RATELIMIT_STORES or "://" not in uri:
            raise ValueError(
                "GRIDMAP_RATELIMIT_STORAGE_URI must be a storage URI such as memory://,"
                " redis://host:6379 or redis+unix:///path/to/redis.sock"
            )
        return uri

    @field_validator(
        "login_rate_limit",
        "write_rate_limit",
        "public_code_rate_limit",
        "public_phone_rate_limit",
        "public_write_rate_limit",
        "public_read_rate_limit",
    )
    @classmethod
    def _rate_limit(cls, limit: str, info: ValidationInfo) -> str:
        try:
            parse_many(limit)
        except ValueError:
            raise ValueError(
                f"{_variable(info.field_name)} must be a rate limit such as '10 per minute' or"
                f" '10/minute;100/hour', not {limit!r}"
            ) from None
        return limit

    @field_validator("rate_weights")
    @classmethod
    def _weights(cls, text: str) -> str:
        parse_weights(text)  # a bad GRIDMAP_RATE_WEIGHTS fails at start
        return text

    @property
    def factors(self) -> dict[str, float]:
        """``urgency_factors`` parsed: {urgency: share of each stage limit}."""
        return parse_urgency_factors(self.urgency_factors)

    @field_validator("urgency_factors")
    @classmethod
    def _urgency_factors(cls, text: str) -> str:
        parse_urgency_factors(text)  # a bad GRIDMAP_URGENCY_FACTORS fails at start
        return text

    @field_validator("rate_board_size")
    @classmethod
    def _board_size(cls, size: float) -> float:
        if not (0 < size < 1 or (size >= 1 and size.is_integer())):
            raise ValueError(
                "GRIDMAP_RATE_BOARD_SIZE must be a whole number >= 1 or a share between 0 and 1,"
                f" not {size!r}"
            )
        return size


class _Variables(EnvSettingsSource):
    """The ``GRIDMAP_*`` variables of one mapping, ``os.environ`` or a test's own."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # The extension point pydantic-settings' own .env source overrides; names are matched
        # case-insensitively, as from os.environ.
        return {name.lower(): value for name, value in self._environ.items()}


def _variable(field_name: str | None) -> str:
    return f"{_PREFIX}{(field_name or '').upper()}"


_KINDS: dict[object, str] = {int: "a whole number", float: "a number", bool: "true or false"}
_BOUNDS = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))


def _allowed(field: FieldInfo) -> str:
    """What a field accepts, in words: ``a whole number >= 1``, ``wgs84, gcj02 or none``."""
    if get_origin(field.annotation) is Literal:
        *head, last = get_args(field.annotation)
        return f"{', '.join(head)} or {last}"
    kind = _KINDS.get(field.annotation, "text")
    bounds = [
        f"{sign} {getattr(rule, name)}"
        for rule in field.metadata
        for name, sign in _BOUNDS
        if hasattr(rule, name)
    ]
    return f"{kind} {' and '.join(bounds)}" if bounds else kind


def _problem(error: ErrorDetails, fields: Mapping[str, FieldInfo]) -> str:
    """One line about one bad value, naming its variable."""
    name = str(error["loc"][0]) if error["loc"] else ""
    if error["type"] == "value_error":  # our own checks name their variables
        return str(error.get("ctx", {}).get("error", error["msg"]))
    if name not in fields:
        return f"unknown setting {name!r}" if name else error["msg"]
    field = fields[name]
    shown = f", not {error['input']!r}" if field.repr else ""
    return f"{_variable(name)} must be {_allowed(field)}{shown}"


def parse_weights(text: str) -> tuple[float, float, float]:
    """``"0.1,0.5,0.4"`` → (response, resolution, satisfaction) weights scaled to sum to 1."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 3 or not all(0 <= v < float("inf") for v in values) or sum(values) <= 0:
        raise ValueError(
            "GRIDMAP_RATE_WEIGHTS must be three numbers >= 0 with a positive sum, as "
            f'"response,resolution,satisfaction" (e.g. "0.1,0.5,0.4"); not {text!r}'
        )
    total = sum(values)
    return (values[0] / total, values[1] / total, values[2] / total)


#: The urgency levels in the order ``GRIDMAP_URGENCY_FACTORS`` lists them: 一般, 紧急, 特急.
URGENCIES: Final = ("normal", "urgent", "critical")


def parse_urgency_factors(text: str) -> dict[str, float]:
    """``"1,0.5,0.25"`` → {normal: 1.0, urgent: 0.5, critical: 0.25}."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) != len(URGENCIES) or not all(0 < v <= 1 for v in values):
        raise ValueError(
            "GRIDMAP_URGENCY_FACTORS must be three numbers above 0 and at most 1, as "
            f'"normal,urgent,critical" (一般,紧急,特急; e.g. "1,0.5,0.25"); not {text!r}'
        )
    return dict(zip(URGENCIES, values, strict=True))
