"""Liveness and readiness: what a load balancer or the front server asks before routing."""

from __future__ import annotations

from gridmap import create_app
from gridmap.core import db
from tests.resilience.conftest import free_port


def test_liveness_answers_without_the_database(anonymous):
    response = anonymous.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readiness_asks_the_database(anonymous):
    response = anonymous.get("/api/v1/ready")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_readiness_is_503_when_the_database_is_gone(settings):
    # Nothing listens on a freshly freed port: the instance is alive but cannot serve.
    gone = settings.database_url.replace(
        settings.database_url.split("@")[1].split("/")[0], f"127.0.0.1:{free_port()}"
    )
    app = create_app(settings.model_copy(update={"database_url": gone}))
    client = app.test_client()
    assert client.get("/api/v1/health").status_code == 200
    response = client.get("/api/v1/ready")
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"


def test_readiness_reports_a_redis_of_the_rate_limits_that_does_not_answer(
    settings, session_factory
):
    # Counted in the process meanwhile (see tests/resilience/test_shared_rate_limits.py), so
    # the instance still serves: 200, not 503.
    gone = f"redis://127.0.0.1:{free_port()}"
    app = create_app(settings.model_copy(update={"ratelimit_storage_uri": gone}))
    db.use_sessions(app, session_factory)
    response = app.test_client().get("/api/v1/ready")
    assert response.status_code == 200
    assert response.json == {
        "status": "degraded",
        "database": "ok",
        "rate_limit_store": "unreachable",
    }
