"""Where photos' bytes live: one small interface (:class:`ObjectStore`) over the local disk
(:class:`DiskStore`, under ``var/`` by default) and any S3-compatible store (:class:`S3Store`,
boto3), chosen by ``GRIDMAP_FILE_STORE`` (:func:`from_settings`)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

from gridmap.core.errors import NotFound, Unavailable
from gridmap.core.settings import Settings

#: The checkout's ``var/``: the default home of the disk store.
_VAR = Path(__file__).resolve().parents[2] / "var"


class ObjectStore(Protocol):
    """Bytes under a key (``photos/<id>``, ``thumbnails/<id>``)."""

    def put(self, key: str, body: bytes, media_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...

    def keys(self) -> list[str]: ...


class DiskStore:
    """Files under ``root``, each written to a temporary name first and renamed (a reader
    never sees half a photo)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / key

    def put(self, key: str, body: bytes, media_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(body)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFound("The file's content is missing from the store.") from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def keys(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file())


class S3Store:
    """Objects in ``bucket`` of an S3-compatible store at ``endpoint_url`` (SeaweedFS, MinIO,
    Ceph, a cloud's), under ``prefix`` (a bucket shared with others); the bucket is created on
    first use when missing."""

    def __init__(
        self,
        endpoint_url: str,
        bucket: str,
        access_key: str,
        secret_key: str,
        region: str,
        prefix: str = "",
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None,
            region_name=region,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=30,
            ),
        )
        self._bucket_ready = False

    def _errors(self) -> tuple[type[Exception], ...]:
        from botocore.exceptions import BotoCoreError, ClientError

        return (BotoCoreError, ClientError)

    def _ready(self) -> None:
        if self._bucket_ready:
            return
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except self._errors():
            try:
                self._client.create_bucket(Bucket=self.bucket)
            except self._errors() as exc:
                raise Unavailable(f"The file store cannot be reached: {exc}") from None
        self._bucket_ready = True

    def put(self, key: str, body: bytes, media_type: str) -> None:
        self._ready()
        try:
            self._client.put_object(
                Bucket=self.bucket, Key=self.prefix + key, Body=body, ContentType=media_type
            )
        except self._errors() as exc:
            raise Unavailable(f"The file store did not take the photo: {exc}") from None

    def get(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            answer = self._client.get_object(Bucket=self.bucket, Key=self.prefix + key)
            return bytes(answer["Body"].read())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NoSuchBucket"):
                raise NotFound("The file's content is missing from the store.") from None
            raise Unavailable(f"The file store cannot be read: {exc}") from None
        except self._errors() as exc:
            raise Unavailable(f"The file store cannot be read: {exc}") from None

    def delete(self, key: str) -> None:
        try:
            self._client.delete_object(Bucket=self.bucket, Key=self.prefix + key)
        except self._errors():
            pass  # the row is gone or never was; an orphan object is harmless

    def keys(self) -> list[str]:
        self._ready()
        found: list[str] = []
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            found.extend(item["Key"][len(self.prefix) :] for item in page.get("Contents", []))
        return sorted(found)


def from_settings(settings: Settings) -> ObjectStore:
    """The store ``settings`` configure."""
    if settings.file_store == "s3":
        return S3Store(
            settings.s3_endpoint_url,
            settings.s3_bucket,
            settings.s3_access_key,
            settings.s3_secret_key,
            settings.s3_region,
            settings.s3_prefix,
        )
    return DiskStore(Path(settings.files_dir) if settings.files_dir else _VAR / "files")
