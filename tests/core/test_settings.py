"""Settings from ``GRIDMAP_*`` variables: types, bounds and messages naming the variable."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from flask.cli import FlaskGroup

from gridmap import create_app
from gridmap.core.settings import DEVELOPMENT_SECRET_KEY, Settings, SettingsError, parse_weights

PRODUCTION_KEY = "a3f1c9e07b2d4e6f8a0b1c2d3e4f5a6b"


def _problems(environ: dict[str, str]) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(environ)
    return caught.value.problems


def test_defaults():
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.env == "development"
    assert settings.max_page_size == 5000 and settings.max_body_bytes == 10 * 1024 * 1024
    assert settings.basemap_crs == "wgs84" and settings.secret_key == DEVELOPMENT_SECRET_KEY
    assert settings.migrate_database_url == settings.database_url
    assert settings.weights == pytest.approx((0.1, 0.5, 0.4))
    assert settings.rate_board_size == 3.0 and settings.rate_board_min_filed == 5
    assert "secret_key" not in repr(settings) and "demo_password" not in repr(settings)


def test_variables_are_parsed_to_their_types():
    settings = Settings.from_env(
        {
            "GRIDMAP_MAX_PAGE_SIZE": "250",
            "GRIDMAP_INSIDE_TOLERANCE_M": "0.5",
            "GRIDMAP_SLIVER_AREA_M2": "0",
            "GRIDMAP_RATE_BOARD_SIZE": "0.1",
            "GRIDMAP_RATE_BOARD_MIN_FILED": "10",
            "GRIDMAP_PASS_BY_METRES": "12.5",
            "GRIDMAP_BASEMAP_CRS": "gcj02",
            "GRIDMAP_BASEMAP_URL": "/tiles/{z}/{x}/{y}.png",
            "GRIDMAP_LOGIN_RATE_LIMIT": "5/minute;50/hour",
            "GRIDMAP_DATABASE_URL": "postgresql+psycopg://gridmap_app:pw@db:5432/city",
            "GRIDMAP_MIGRATE_DATABASE_URL": "",  # empty: the application's URL
            "GRIDMAP_PORT": "8000",  # ./scripts/run's own, not a setting: ignored
        }
    )
    assert settings.max_page_size == 250 and isinstance(settings.max_page_size, int)
    assert settings.inside_tolerance_m == 0.5 and settings.sliver_area_m2 == 0.0
    assert settings.rate_board_size == 0.1 and settings.pass_by_metres == 12.5
    assert settings.rate_board_min_filed == 10
    assert settings.basemap_crs == "gcj02" and settings.basemap_url == "/tiles/{z}/{x}/{y}.png"
    assert settings.login_rate_limit == "5/minute;50/hour"
    assert settings.migrate_database_url == "postgresql+psycopg://gridmap_app:pw@db:5432/city"


def test_from_env_reads_the_process_environment(monkeypatch):
    monkeypatch.setenv("GRIDMAP_IDLE_TIMEOUT_MINUTES", "45")
    assert Settings.from_env().idle_timeout_minutes == 45
    # Keyword construction takes the given values and the defaults, never the environment.
    assert Settings().idle_timeout_minutes == 30


@pytest.mark.parametrize("value", ["5k", "-3", "0", "1.5", ""])
def test_a_bad_page_size_names_the_variable_and_what_it_may_be(value):
    assert _problems({"GRIDMAP_MAX_PAGE_SIZE": value}) == [
        f"GRIDMAP_MAX_PAGE_SIZE must be a whole number >= 1, not {value!r}"
    ]


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("GRIDMAP_MAX_BODY_BYTES", "0", "a whole number >= 1"),
        ("GRIDMAP_IDLE_TIMEOUT_MINUTES", "0", "a whole number >= 1"),
        ("GRIDMAP_ABSOLUTE_TIMEOUT_HOURS", "twelve", "a whole number >= 1"),
        ("GRIDMAP_LOGIN_FREE_FAILURES", "-1", "a whole number >= 1"),
        ("GRIDMAP_LOGIN_MAX_DELAY_SECONDS", "0", "a whole number >= 1"),
        ("GRIDMAP_TRUSTED_PROXIES", "6", "a whole number >= 0 and <= 5"),
        ("GRIDMAP_AUDIT_RETENTION_DAYS", "90", "a whole number >= 180"),
        ("GRIDMAP_INSIDE_TOLERANCE_M", "-0.1", "a number >= 0"),
        ("GRIDMAP_SLIVER_AREA_M2", "inf", "a number >= 0"),
        ("GRIDMAP_SLIVER_WIDTH_M", "-0.5", "a number >= 0 and <= 5"),
        ("GRIDMAP_SNAP_TOLERANCE_M", "3", "a number >= 0 and <= 1"),
        ("GRIDMAP_PASS_BY_METRES", "0", "a number > 0 and <= 1000"),
        ("GRIDMAP_TRACK_MAX_SPEED_MPS", "1e4", "a number > 0 and <= 1000"),
        ("GRIDMAP_ENV", "prod", "development or production"),
    ],
)
def test_each_bound_is_named_in_its_message(name, value, allowed):
    assert _problems({name: value}) == [f"{name} must be {allowed}, not {value!r}"]


def test_a_bad_basemap_crs_keeps_its_message():
    assert _problems({"GRIDMAP_BASEMAP_CRS": "bd09"}) == [
        "GRIDMAP_BASEMAP_CRS must be wgs84, gcj02 or none, not 'bd09'"
    ]
    with pytest.raises(ValueError, match="GRIDMAP_BASEMAP_CRS must be wgs84, gcj02 or none"):
        Settings(basemap_crs="epsg:3857")


def test_every_bad_variable_gets_its_own_line():
    problems = _problems(
        {
            "GRIDMAP_MAX_PAGE_SIZE": "5k",
            "GRIDMAP_RATE_WEIGHTS": "1,2",
            "GRIDMAP_RATE_BOARD_SIZE": "2.5",
            "GRIDMAP_WRITE_RATE_LIMIT": "lots",
        }
    )
    assert [p.split()[0] for p in problems] == [
        "GRIDMAP_MAX_PAGE_SIZE",
        "GRIDMAP_WRITE_RATE_LIMIT",
        "GRIDMAP_RATE_WEIGHTS",
        "GRIDMAP_RATE_BOARD_SIZE",
    ]
    assert "three numbers >= 0 with a positive sum" in problems[2]
    assert "a whole number >= 1 or a share between 0 and 1, not 2.5" in problems[3]


def test_urls_are_checked_without_repeating_a_password():
    problems = _problems({"GRIDMAP_DATABASE_URL": "mysql://app:hunter2@db/city"})
    assert problems == [
        "GRIDMAP_DATABASE_URL must be a PostgreSQL URL such as"
        " postgresql+psycopg://user:password@host:5432/gridmap"
    ]
    replica = _problems({"GRIDMAP_REPLICA_DATABASE_URL": "mysql://app:hunter2@db/city"})
    assert replica[0].startswith("GRIDMAP_REPLICA_DATABASE_URL must be a PostgreSQL URL")
    assert "hunter2" not in replica[0]
    assert Settings().replica_database_url == ""  # no replica: everything on the primary
    assert "GRIDMAP_BASEMAP_URL must be" in _problems({"GRIDMAP_BASEMAP_URL": "tiles.example"})[0]
    for uri in ("redis", "memcached://:hunter2@cache:11211"):  # no client for memcached
        [storage] = _problems({"GRIDMAP_RATELIMIT_STORAGE_URI": uri})
        assert storage.startswith("GRIDMAP_RATELIMIT_STORAGE_URI must be a storage URI")
        assert "hunter2" not in storage
    for uri in ("memory://", "redis://:pw@cache:6379/0", "redis+unix:///run/redis.sock"):
        assert Settings.from_env({"GRIDMAP_RATELIMIT_STORAGE_URI": uri}).ratelimit_storage_uri


def test_production_refuses_the_development_secret():
    for secret in ({}, {"GRIDMAP_SECRET_KEY": DEVELOPMENT_SECRET_KEY}, {"GRIDMAP_SECRET_KEY": "x"}):
        [problem] = _problems({"GRIDMAP_ENV": "production", **secret})
        assert problem.startswith("GRIDMAP_SECRET_KEY must be a random value of at least 16")
        assert DEVELOPMENT_SECRET_KEY not in problem
    production = Settings.from_env(
        {"GRIDMAP_ENV": "production", "GRIDMAP_SECRET_KEY": PRODUCTION_KEY}
    )
    assert production.env == "production" and production.secret_key == PRODUCTION_KEY
    with pytest.raises(SettingsError, match="GRIDMAP_SECRET_KEY"):
        Settings(env="production")
    assert Settings.from_env({"GRIDMAP_ENV": "development"}).secret_key == DEVELOPMENT_SECRET_KEY


def test_keyword_construction_and_replace_validate_like_the_environment():
    settings = Settings(
        database_url="postgresql+psycopg://a@h/one", basemap_crs="none", max_page_size=500
    )
    assert settings.migrate_database_url == "postgresql+psycopg://a@h/one"
    moved = settings.replace(database_url="postgresql+psycopg://a@h/two")
    assert (moved.migrate_database_url, moved.max_page_size) == (
        "postgresql+psycopg://a@h/two",
        500,
    )
    with pytest.raises(ValueError, match="GRIDMAP_MAX_PAGE_SIZE must be a whole number >= 1"):
        settings.replace(max_page_size=-3)
    with pytest.raises(SettingsError, match="unknown setting 'max_pagesize'"):
        Settings(max_pagesize=5)


def test_settings_are_frozen():
    settings = Settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.max_page_size = 1  # type: ignore[misc]


def test_parse_weights_scales_to_one():
    assert parse_weights("1,1,2") == (0.25, 0.25, 0.5)
    with pytest.raises(ValueError, match="GRIDMAP_RATE_WEIGHTS"):
        parse_weights("0,0,0")


def test_create_app_refuses_a_bad_variable(monkeypatch):
    monkeypatch.setenv("GRIDMAP_MAX_PAGE_SIZE", "5k")
    with pytest.raises(SettingsError, match=r"^GRIDMAP_MAX_PAGE_SIZE must be a whole number"):
        create_app()


def test_the_cli_prints_one_line_per_bad_variable_and_exits_1(monkeypatch):
    monkeypatch.setenv("GRIDMAP_MAX_PAGE_SIZE", "-3")
    monkeypatch.setenv("GRIDMAP_ENV", "production")
    cli = FlaskGroup(create_app=create_app)
    result = CliRunner().invoke(cli, ["gridmap", "migrate"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: GRIDMAP_MAX_PAGE_SIZE must be a whole number >= 1, not '-3'",
        "GRIDMAP_SECRET_KEY must be a random value of at least 16 characters when"
        " GRIDMAP_ENV=production, not the development key or a short one"
        " (e.g. python3 -c 'import secrets; print(secrets.token_hex())')",
    ]
    assert "Traceback" not in result.output


def test_the_repr_masks_passwords():
    settings = Settings(
        database_url="postgresql+psycopg://app:hunter2@db:5432/city",
        replica_database_url="postgresql+psycopg://app:hunter2@replica/city",
        ratelimit_storage_uri="redis://:hunter2@cache:6379/0",
        secret_key=PRODUCTION_KEY,
    )
    shown = repr(settings)
    assert "hunter2" not in shown and PRODUCTION_KEY not in shown
    assert "postgresql+psycopg://app:***@db:5432/city" in shown
    assert "redis://:***@cache:6379/0" in shown
    assert settings.database_url.endswith("app:hunter2@db:5432/city")  # the value itself is kept
