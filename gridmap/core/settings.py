"""Typed settings read from ``GRIDMAP_*`` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Literal

BasemapCrs = Literal["wgs84", "gcj02", "none"]

_DEFAULT_BASEMAP = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


@dataclass(frozen=True)
class Settings:
    """Everything that differs between deployments.

    Each field maps to ``GRIDMAP_<FIELD NAME IN UPPER CASE>``; ``from_env`` reads them.
    """

    #: The application's connection: the ``gridmap_app`` role, which may not alter the audit log.
    database_url: str = "postgresql+psycopg://gridmap_app@127.0.0.1:54329/gridmap"
    #: The owner's connection, for migrations (and for creating test databases); defaults to
    #: ``database_url``, which then must be allowed to create roles and tables.
    migrate_database_url: str = ""
    #: Basemap tile URL template, its attribution and the CRS its tiles are drawn in.
    #: ``basemap_crs="none"`` shows no basemap at all (an intranet without a tile server).
    basemap_url: str = _DEFAULT_BASEMAP
    basemap_attribution: str = "© OpenStreetMap contributors"
    basemap_crs: BasemapCrs = "wgs84"
    #: Largest page of features one API call returns.
    max_page_size: int = 5000
    #: Largest request body accepted, in bytes.
    max_body_bytes: int = 10 * 1024 * 1024
    #: Tolerance in metres when checking that a child grid lies inside its parent.
    inside_tolerance_m: float = 1.0
    #: Smallest gap or overlap, in square metres, that grid validation reports.
    sliver_area_m2: float = 1.0
    secret_key: str = field(default="dev-only-secret-change-me", repr=False)
    #: Sessions end after this long without a request, and this long after login in any case.
    idle_timeout_minutes: int = 30
    absolute_timeout_hours: int = 12
    #: Failed logins in a row that lock an account, and for how long.
    lockout_attempts: int = 5
    lockout_minutes: int = 15
    #: Audit rows younger than this are never pruned (never below 180 days).
    audit_retention_days: int = 180
    #: Where rate-limit counters live: ``memory://`` counts per worker process; use e.g.
    #: ``redis://host:6379`` to share them between workers and hosts.
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
    #: A patrol reaches a household its cleaned track passes within this many metres
    #: (``gridmap.storage.patrols``); a check-in always reaches it.
    pass_by_metres: float = 30.0
    #: Track cleaning drops points reached faster than this (m/s) as teleport jumps: far
    #: above walking or cycling, below any GPS jump worth keeping (``gridmap.spatial.tracks``).
    track_max_speed_mps: float = 30.0
    #: Password of the demo accounts created with the demo data (demo only).
    demo_password: str = field(default="gridmap-demo", repr=False)

    @property
    def weights(self) -> tuple[float, float, float]:
        """``rate_weights`` parsed: (response, resolution, satisfaction), summing to 1."""
        return parse_weights(self.rate_weights)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Build settings from ``GRIDMAP_*`` variables, falling back to the defaults."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(f"GRIDMAP_{f.name.upper()}")
            if raw is None:
                continue
            default = getattr(cls, f.name)
            values[f.name] = type(default)(raw) if isinstance(default, (int, float)) else raw
        return cls(**values)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        if self.basemap_crs not in ("wgs84", "gcj02", "none"):
            raise ValueError(
                f"GRIDMAP_BASEMAP_CRS must be wgs84, gcj02 or none, not {self.basemap_crs!r}"
            )
        parse_weights(self.rate_weights)  # a bad GRIDMAP_RATE_WEIGHTS fails at start
        size = float(self.rate_board_size)
        if not (0 < size < 1 or (size >= 1 and size.is_integer())):
            raise ValueError(
                "GRIDMAP_RATE_BOARD_SIZE must be a whole number >= 1 or a share between 0 and 1,"
                f" not {self.rate_board_size!r}"
            )
        if not (0 < self.pass_by_metres <= 1000 and 0 < self.track_max_speed_mps <= 1000):
            raise ValueError(
                "GRIDMAP_PASS_BY_METRES and GRIDMAP_TRACK_MAX_SPEED_MPS must be above 0 and at"
                f" most 1000, not {self.pass_by_metres!r} and {self.track_max_speed_mps!r}"
            )
        if not self.migrate_database_url:
            object.__setattr__(self, "migrate_database_url", self.database_url)


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
