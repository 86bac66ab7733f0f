"""``kill -9`` of PostgreSQL in the middle of 1,000 intakes, then a restart.

A private cluster of its own (initdb as ``postgres`` like ``scripts/_setup.sh``, its own port
and socket directory, default durability settings) serves gunicorn. Four client threads file
1,000 intakes, each with an Idempotency-Key of its own. Midway the postmaster and its backends
are killed with SIGKILL (a crash: no shutdown, no WAL flush by anyone); while it is down the
app must answer 503, never 500; ``pg_ctl start`` recovers it and the clients keep going; then
every intake not acknowledged with 201 is retried with its same key.

Must hold: every acknowledged intake is stored exactly once with the id it was acknowledged
with; all 1,000 are stored once after the retries; the same gunicorn (never restarted) serves
again. The shared cluster on port 54329 is not touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from gridmap.core import db
from tests.requests.conftest import intake_body
from tests.resilience.conftest import (
    Answer,
    Deployment,
    call,
    free_port,
    prepare,
    start_gunicorn,
    stop_server,
)

PGBIN = Path("/usr/lib/postgresql/15/bin")
INTAKES = 1000
CLIENTS = 4
#: Intakes acknowledged before the crash, and how long the database stays away.
CRASH_AFTER = 300
DOWN_SECONDS = 3.0


class Cluster:
    """A throw-away PostgreSQL cluster run by the ``postgres`` user."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_port()

    def _run(self, *args: str) -> None:
        command = [str(PGBIN / args[0]), *args[1:]]
        if os.geteuid() == 0:  # initdb and pg_ctl refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.data}'\n"
            )

    def start(self) -> None:
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "start"
        )

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def url(self, user: str, database: str) -> str:
        return f"postgresql+psycopg://{user}@127.0.0.1:{self.port}/{database}"

    def crash(self) -> None:
        """SIGKILL the postmaster and every backend it started; wait until all are gone."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        victims = [postmaster, *_children(postmaster)]
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in victims):
            assert time.monotonic() < deadline, "the killed PostgreSQL processes linger"
            time.sleep(0.05)


def _children(parent: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found


@pytest.fixture(scope="module")
def crashable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Deployment, Cluster]]:
    """gunicorn on a private, loaded cluster that the test may kill."""
    cluster = Cluster(Path(tempfile.mkdtemp(prefix="gridmap-crash-")))
    try:
        cluster.init()
        cluster.start()
        admin = create_engine(cluster.url("postgres", "postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE ROLE gridmap LOGIN SUPERUSER"))
            conn.execute(text("CREATE DATABASE gridmap OWNER gridmap"))
        owner = cluster.url("gridmap", "gridmap")
        db.migrate(owner)
        with admin.connect() as conn:
            conn.execute(text("ALTER ROLE gridmap_app LOGIN"))
        admin.dispose()
        live = prepare(owner, cluster.url("gridmap_app", "gridmap"))
        live.log = tmp_path_factory.mktemp("gunicorn-crash") / "gunicorn.log"
        live.gunicorn, live.base_url = start_gunicorn(live.app_url, live.log)
        try:
            yield live, cluster
        finally:
            stop_server(live.gunicorn)
    finally:
        cluster.stop()
        shutil.rmtree(cluster.root, ignore_errors=True)


def _intake(live: Deployment, i: int) -> Answer:
    body = intake_body(description=f"崩溃测试 crash-intake-{i:04d}")
    try:
        return call(
            live.base_url,
            "POST",
            "/api/v1/requests",
            token=live.tokens["worker"],
            body=body,
            headers={"Idempotency-Key": f"crash-{i:04d}"},
        )
    except OSError as exc:  # gunicorn itself must stay up: counted, and failed below
        return Answer(0, {}, b"", error=repr(exc))


Answers = dict[int, list[Answer]]


def _file_through_a_crash(live: Deployment, cluster: Cluster) -> tuple[Answers, list[Answer]]:
    """File the intakes from CLIENTS threads, crashing the database after CRASH_AFTER acks.

    Returns every answer per intake, and the answers of the probes sent while it was down.
    """
    answers: Answers = {i: [] for i in range(INTAKES)}
    down: list[Answer] = []
    todo = iter(range(INTAKES))
    lock = threading.Lock()
    acknowledged = threading.Semaphore(0)

    def client() -> None:
        while (i := _next(todo, lock)) is not None:
            answer = _intake(live, i)
            answers[i].append(answer)
            if answer.status == 201:
                acknowledged.release()
            else:  # back off, as a phone would, and go on with the next one
                time.sleep(0.2)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for _ in range(CRASH_AFTER):
        acknowledged.acquire(timeout=60)
    cluster.crash()
    # While it is away the clients keep filing, and a probe checks that the answer is 503.
    until = time.monotonic() + DOWN_SECONDS
    while time.monotonic() < until:
        down.append(_intake(live, INTAKES + len(down)))
        time.sleep(0.1)
    cluster.start()
    for t in threads:
        t.join()
    return answers, down


def _next(todo: Iterator[int], lock: threading.Lock) -> int | None:
    with lock:
        return next(todo, None)


def _retry_unacknowledged(live: Deployment, answers: Answers) -> None:
    """Retry, with its same key, every intake whose last answer is not a 201."""

    def retry(i: int) -> None:
        tries = answers[i]
        for _ in range(20):
            if tries[-1].status == 201:
                return
            tries.append(_intake(live, i))
            if tries[-1].status != 201:
                time.sleep(0.2)

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        list(pool.map(retry, list(answers)))


def _stored(owner_url: str) -> dict[int, list[int]]:
    """Intake number → ids of the requests stored for it."""
    engine = create_engine(owner_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT substring(description from 'crash-intake-(\\d+)')::int AS i, "
                "array_agg(id) AS ids FROM resident_request "
                "WHERE description LIKE '%crash-intake-%' GROUP BY 1"
            )
        ).all()
    engine.dispose()
    return {row.i: list(row.ids) for row in rows}


def test_kill_9_of_postgresql_loses_no_acknowledged_intake(
    crashable: tuple[Deployment, Cluster],
) -> None:
    live, cluster = crashable
    pid = live.gunicorn.pid
    answers, down = _file_through_a_crash(live, cluster)
    first = Counter(tries[0].status for tries in answers.values())
    during = Counter(a.status for a in down)
    print(f"\nfirst attempts: {dict(first)}; probes while down: {dict(during)}")
    _retry_unacknowledged(live, answers)
    print(f"retries: {dict(Counter(a.status for t in answers.values() for a in t[1:]))}")

    assert all(tries[-1].status == 201 for tries in answers.values())
    ids = _stored(live.owner_url)
    twice = {i: v for i, v in ids.items() if len(v) != 1}
    assert not twice, twice
    for i, tries in answers.items():
        acked = {a.json()["id"] for a in tries if a.status == 201}
        assert acked == set(ids.get(i, [])), (i, acked, ids.get(i))
    assert set(ids) == set(range(INTAKES))  # and no probe sent while it was down was stored
    # The same gunicorn serves again: never restarted.
    assert live.gunicorn.poll() is None and live.gunicorn.pid == pid
    again = call(live.base_url, "GET", "/api/v1/requests?limit=1", token=live.tokens["worker"])
    assert again.status == 200, again.body
    # While the database was away: 503, never a server error.
    statuses = Counter(a.status for tries in answers.values() for a in tries) + during
    print(f"all answers: {dict(statuses)}")
    assert statuses[503] > 0 and set(during) == {503}, during
    assert set(statuses) <= {201, 503}, statuses
