"""The outbox's must-hold: 1,000 messages, the sender process killed (SIGKILL) mid-batch and
restarted, every message delivered exactly once, counted on the receiving server.

The server is the local Alibaba Cloud SMS gateway of ``tests/provider_servers.py`` (it checks
every signature and refuses a nonce it has seen). It kills the sender itself at the worst
moment: after accepting a message and before answering, so the sender never learns that the
message went out; the restarted sender tries it again with the same idempotency key.
Then a real ``flask gridmap worker`` delivers more messages by itself, on its schedule.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, insert, select

from gridmap.storage.models import NotificationDelivery, Outbox
from tests.conftest import create_test_database, drop_test_database
from tests.provider_servers import ACCESS_KEY_ID, ACCESS_KEY_SECRET, AliyunSmsServer
from tests.workers import ROOT, start_worker, stop_worker

N = 1000
KILL_AT = (250, 600)


@pytest.fixture(scope="module")
def outbox_db() -> Iterator[tuple[str, str]]:
    name = f"gridmap_test_notify_{os.getpid()}"
    owner, app_url = create_test_database(name)
    engine = create_engine(owner)
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(Outbox),
            [
                {
                    "kind": "accepted",
                    "recipient_phone": f"139{i:08d}",
                    "payload": {"text": f"您反映的诉求（编号 {i}）已受理，正在处理"},
                    "created_at": now,
                    "next_attempt_at": now,
                }
                for i in range(N)
            ],
        )
    engine.dispose()
    yield owner, app_url
    drop_test_database(name)


def _sender(app_url: str, sms: AliyunSmsServer, log: Path) -> subprocess.Popen:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = os.environ | {
        "GRIDMAP_DATABASE_URL": app_url,
        "PYTHONPATH": path,
        "GRIDMAP_NOTIFY_MODE": "live",
        "GRIDMAP_NOTIFY_QUIET_HOURS": "",
        "GRIDMAP_SMS_ENDPOINT": sms.url + "/",
        "GRIDMAP_SMS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "GRIDMAP_SMS_ACCESS_KEY_SECRET": ACCESS_KEY_SECRET,
        "GRIDMAP_SMS_SIGN_NAME": "网格通",
        "GRIDMAP_SMS_TEMPLATE": "SMS_100001",
    }
    env.pop("GRIDMAP_MIGRATE_DATABASE_URL", None)
    command = [sys.executable, "-m", "flask", "--app", "gridmap", "gridmap", "send-notifications"]
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)


def test_killed_mid_batch_and_restarted_every_message_once(
    outbox_db: tuple[str, str], tmp_path: Path
) -> None:
    owner, app_url = outbox_db
    sms = AliyunSmsServer()
    running: list[subprocess.Popen] = []
    kills: list[int] = []

    def kill_before_answering(count: int) -> None:
        if count in KILL_AT:
            kills.append(count)
            os.kill(running[-1].pid, signal.SIGKILL)

    sms.on_accept = kill_before_answering
    log = tmp_path / "sender.log"
    try:
        for _ in range(len(KILL_AT) + 1):
            running.append(_sender(app_url, sms, log))
            code = running[-1].wait(timeout=300)
            if code == 0:
                break
            assert code == -signal.SIGKILL, log.read_text(errors="replace")
    finally:
        sms.close()
    assert kills == list(KILL_AT) and running[-1].returncode == 0
    engine = create_engine(owner)
    with engine.connect() as conn:
        ids = set(conn.scalars(select(Outbox.id)))
        unsent = conn.scalar(select(func.count()).where(Outbox.outcome.is_distinct_from("sent")))
        delivered = conn.scalar(select(func.count()).select_from(NotificationDelivery))
    engine.dispose()
    assert len(sms.accepted) == N and set(sms.accepted.values()) == {1}
    assert {int(k) for k in sms.accepted} == ids
    assert unsent == 0 and delivered == N
    # The two killed tries came back refused as seen: more calls than messages, each sent once.
    assert len(sms.nonces) == N


def test_the_worker_runs_the_sender_on_its_schedule(
    outbox_db: tuple[str, str], tmp_path: Path
) -> None:
    """``flask gridmap worker`` delivers the outbox by itself (the demo's recorder: log mode),
    on its every-minute schedule."""
    owner, app_url = outbox_db
    engine = create_engine(owner)
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        ids = conn.scalars(
            insert(Outbox).returning(Outbox.id),
            [
                {
                    "kind": "completed",
                    "recipient_phone": f"138{i:08d}",
                    "payload": {"text": f"您反映的诉求（编号 {i}）已办结"},
                    "created_at": now,
                    "next_attempt_at": now,
                }
                for i in range(5)
            ],
        ).all()
    environment = {"GRIDMAP_NOTIFY_MODE": "log", "GRIDMAP_NOTIFY_QUIET_HOURS": ""}
    worker = start_worker(app_url, tmp_path / "worker.log", extra_env=environment)
    try:
        deadline = time.monotonic() + 150  # the next whole minute, on a busy machine
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                done = conn.scalar(
                    select(func.count()).where(Outbox.id.in_(ids), Outbox.outcome == "sent")
                )
            if done == len(ids):
                break
            time.sleep(1)
    finally:
        stop_worker(worker)
    with engine.connect() as conn:
        logged = conn.execute(
            select(NotificationDelivery.recipient, NotificationDelivery.dry_run).where(
                NotificationDelivery.outbox_id.in_(ids)
            )
        ).all()
    engine.dispose()
    assert done == len(ids), (tmp_path / "worker.log").read_text(errors="replace")
    assert sorted(logged) == [(f"138****{i:04d}", True) for i in range(5)]
