"""Photos made for the upload tests: real images (Pillow) with chosen EXIF, and the hostile
files the upload must refuse."""

from __future__ import annotations

import io
import random
import struct
import uuid
import zipfile
import zlib
from fractions import Fraction
from typing import Any

from flask.testing import FlaskClient
from PIL import Image
from werkzeug.test import TestResponse

GPS, EXIF_IFD = 0x8825, 0x8769


def image(
    kind: str = "JPEG", size: tuple[int, int] = (64, 48), exif: Image.Exif | None = None
) -> bytes:
    picture = Image.new("RGB", size, (200, 120, 40))
    for x in range(0, size[0], 4):
        picture.putpixel((x, x % size[1]), (0, 0, 255))
    out = io.BytesIO()
    picture.save(out, kind, **({"exif": exif} if exif is not None else {}))
    return out.getvalue()


def gps_exif(
    lat: Any, lat_ref: Any, lon: Any, lon_ref: Any, taken: str | None = None
) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    if taken:
        exif[0x0132] = taken
    exif[GPS] = {1: lat_ref, 2: lat, 3: lon_ref, 4: lon}
    return exif


def raw_gps_exif(gps: list[tuple[int, int, int, bytes]], pointer: int | None = None) -> bytes:
    """EXIF written by hand (little-endian TIFF): an IFD0 pointing at a GPS IFD of ``gps``
    entries (tag, type, count, value bytes), or at ``pointer`` instead."""
    gps_at = 26
    data_at = gps_at + 2 + 12 * len(gps) + 4
    entries, extra = b"", b""
    for tag, kind, count, value in gps:
        if len(value) <= 4:
            entries += struct.pack("<HHI", tag, kind, count) + value.ljust(4, b"\x00")
        else:
            entries += struct.pack("<HHII", tag, kind, count, data_at + len(extra))
            extra += value
    ifd0 = struct.pack("<HHHII", 1, GPS, 4, 1, gps_at if pointer is None else pointer)
    gps_ifd = struct.pack("<H", len(gps)) + entries + struct.pack("<I", 0) + extra
    return b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + ifd0 + struct.pack("<I", 0) + gps_ifd


def rationals(*pairs: tuple[int, int]) -> bytes:
    return b"".join(struct.pack("<II", n, d) for n, d in pairs)


_LAT = (2, 5, 3, rationals((39, 1), (54, 1), (540, 10)))
_LON = (4, 5, 3, rationals((116, 1), (24, 1), (180, 10)))
_N, _E = (1, 2, 2, b"N\x00"), (3, 2, 2, b"E\x00")
#: GPS blocks that cannot be read: zero denominators, text for numbers, an unknown reference,
#: 75 minutes, two numbers instead of three, a block the file does not hold.
BAD_GPS: list[tuple[list[tuple[int, int, int, bytes]], int | None]] = [
    ([_N, (2, 5, 3, rationals((39, 0), (54, 0), (0, 0))), _E, _LON], None),
    ([_N, (2, 2, 6, b"north\x00"), _E, _LON], None),
    ([(1, 2, 2, b"Q\x00"), _LAT, _E, _LON], None),
    ([_N, _LAT, _E, (4, 5, 3, rationals((116, 1), (75, 1), (0, 1)))], None),
    ([_N, (2, 5, 2, rationals((39, 1), (54, 1))), _E, _LON], None),
    ([_N, _LAT, _E, _LON], 1_000_000),
]


def with_exif(raw: bytes) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (90, 90, 90)).save(out, "JPEG", exif=raw)
    return out.getvalue()


def dms(degrees: float) -> tuple[Fraction, Fraction, Fraction]:
    d = int(degrees)
    m = int((degrees - d) * 60)
    s = round(((degrees - d) * 60 - m) * 60, 3)
    return (Fraction(d), Fraction(m), Fraction(s).limit_denominator(1000))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width``×``height`` pixels over a tiny compressed body."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\x00" * 1000, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", body)
        + _png_chunk(b"IEND", b"")
    )


def _jpeg_claiming(width: int, height: int) -> bytes:
    data = bytearray(image("JPEG"))
    at = data.find(b"\xff\xc0")
    data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("payload.html", "<script>alert(1)</script>")
    return out.getvalue()


def _real_bomb(side: int) -> bytes:
    out = io.BytesIO()
    Image.new("1", (side, side)).save(out, "PNG")
    return out.getvalue()


def _with_comment(jpeg: bytes, text: bytes) -> bytes:
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text + jpeg[2:]


def _with_png_text(png: bytes, text: bytes) -> bytes:
    at = png.find(b"IDAT") - 4
    return png[:at] + _png_chunk(b"tEXt", b"Comment\x00" + text) + png[at:]


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


def hostile_files(count: int = 300, seed: int = 17) -> list[tuple[str, str, bytes]]:
    """``count`` hostile uploads: (kind, file name, bytes), every kind represented."""
    rng = random.Random(seed)
    jpeg, png, webp = image("JPEG"), image("PNG"), image("WEBP")
    bombs = [_real_bomb(7000), _real_bomb(6500)]
    makers: list[tuple[str, Any]] = [
        (
            "wrong-type",
            lambda: (
                rng.choice([b"GIF89a", b"BM", b"%PDF-1.7", b"II*\x00", b"\x7fELF"])
                + rng.randbytes(rng.randint(10, 5000))
            ),
        ),
        ("wrong-type", lambda: rng.randbytes(rng.randint(1, 20000))),
        ("wrong-type", lambda: HTML + rng.randbytes(rng.randint(0, 100))),
        ("wrong-type", lambda: _zip()),
        ("bomb", lambda: _png_claiming(rng.randint(20_000, 65_000), rng.randint(20_000, 65_000))),
        ("bomb", lambda: _jpeg_claiming(rng.randint(10_000, 65_000), rng.randint(10_000, 65_000))),
        ("bomb", lambda: rng.choice(bombs)),
        ("svg", lambda: SVG.replace(b"alert(1)", f"alert({rng.randint(0, 99)})".encode())),
        ("svg", lambda: b'<?xml version="1.0"?>\n' + SVG),
        ("polyglot", lambda: jpeg + _zip()),
        ("polyglot", lambda: jpeg + HTML),
        ("polyglot", lambda: png + _zip()),
        ("polyglot", lambda: png + HTML),
        ("polyglot", lambda: webp + HTML),
        ("polyglot", lambda: _with_comment(jpeg, HTML)),
        ("polyglot", lambda: _with_png_text(png, HTML)),
        ("bad-gps", lambda: with_exif(raw_gps_exif(*rng.choice(BAD_GPS)))),
        ("truncated", lambda: jpeg[: rng.randint(3, len(jpeg) - 3)]),
        ("truncated", lambda: png[: rng.randint(9, len(png) - 13)]),
        ("empty", lambda: b""),
    ]
    names = ["photo.jpg", "IMG_0001.JPG", "a.png", "b.webp", "x.jpeg", "image.svg"]
    files: list[tuple[str, str, bytes]] = [
        ("too-large", "big.jpg", jpeg + b"\x00" * (50 * 1024 * 1024))
    ]
    while len(files) < count:
        kind, make = makers[len(files) % len(makers)]
        files.append((kind, rng.choice(names), make()))
    return files


def upload(
    client: FlaskClient,
    data: bytes,
    purpose: str = "intake",
    name: str = "p.jpg",
    key: str | None = None,
) -> TestResponse:
    """POST a photo as a phone would (declared image/jpeg whatever it is). The multipart body
    is built here, in memory: the test client's own spools a large one to a temporary file
    it never closes when the app refuses the body unread."""
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n{purpose}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return client.post(
        "/api/v1/files",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers={"Idempotency-Key": key} if key else {},
    )


def uploaded(client: FlaskClient, data: bytes, purpose: str = "intake") -> dict[str, Any]:
    response = upload(client, data, purpose)
    assert response.status_code == 201, response.get_data(as_text=True)
    answer: dict[str, Any] = response.get_json()
    return answer
