"""Checking an uploaded photo by its content (Pillow), never by its name or declared type.

:func:`check_photo` accepts a JPEG, PNG or WebP that decodes completely, within the byte and
pixel limits, with nothing hidden beside the image (no data after its end, no markup or
archive in its metadata), and returns it re-encoded without metadata, with a thumbnail, its
SHA-256 and the place and time its EXIF recorded (:func:`exif_facts`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import math
import re
import struct
import warnings
from dataclasses import dataclass, field
from typing import Any, Final

from PIL import Image, ImageOps, UnidentifiedImageError

from gridmap.core.errors import GridmapError, InvalidInput, Unprocessable

#: The formats accepted, by Pillow's name, and the type each is stored and served as.
MEDIA_TYPES: Final = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
#: The longest side of a thumbnail, in pixels.
THUMBNAIL_SIDE: Final = 320
_JPEG, _PNG = b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"
#: What must never hide in an image's metadata: markup a browser would run, an archive.
_HIDDEN = re.compile(rb"(?i)<\s*(script|html|svg|iframe|body|\?php|!doctype)|PK\x03\x04")
_GPS_IFD, _EXIF_IFD = 0x8825, 0x8769


class TooLarge(GridmapError):
    status = 413
    code = "photo-too-large"
    title = "Photo too large"


class NotAPhoto(GridmapError):
    status = 415
    code = "not-a-photo"
    title = "Not a JPEG, PNG or WebP photo"


class BadPhoto(Unprocessable):
    code = "bad-photo"
    title = "Photo refused"


@dataclass(frozen=True)
class CheckedPhoto:
    """A photo as it is stored: re-encoded ``body`` without metadata and its ``thumbnail``
    (JPEG), with what the upload was."""

    media_type: str
    body: bytes
    thumbnail: bytes
    width: int
    height: int
    sha256: str
    original_bytes: int
    exif: dict[str, Any] = field(default_factory=dict)


def check_photo(data: bytes, *, max_bytes: int, max_pixels: int) -> CheckedPhoto:
    """The checked photo of ``data``, or :class:`TooLarge` (413), :class:`NotAPhoto` (415) or
    :class:`BadPhoto` (422) saying what is wrong."""
    if not data:
        raise InvalidInput("The file is empty (0 bytes): choose a photo.")
    if len(data) > max_bytes:
        raise TooLarge(f"The photo is {len(data)} bytes; at most {max_bytes} are accepted.")
    kind = _sniff(data)
    _check_structure(kind, data)
    image = _open(data, kind, max_pixels)
    exif = exif_facts(image)
    upright = _decoded(image)
    return CheckedPhoto(
        media_type=MEDIA_TYPES[kind],
        body=_encoded(upright, kind),
        thumbnail=_thumbnail(upright),
        width=upright.width,
        height=upright.height,
        sha256=hashlib.sha256(data).hexdigest(),
        original_bytes=len(data),
        exif=exif,
    )


def _sniff(data: bytes) -> str:
    if data.startswith(_JPEG):
        return "JPEG"
    if data.startswith(_PNG):
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    raise NotAPhoto(
        "The file is not a JPEG, PNG or WebP photo (its content was checked, not its name "
        "or declared type); SVG, GIF, HEIC and documents are not accepted."
    )


def _open(data: bytes, kind: str, max_pixels: int) -> Image.Image:
    """Open and decode ``data`` completely, refusing a pixel count over ``max_pixels`` before
    any pixel is decoded (a decompression bomb), several frames, or a broken image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[kind])
            width, height = image.size
            if width * height > max_pixels:
                raise BadPhoto(
                    f"The photo claims {width}×{height} pixels; at most {max_pixels} are "
                    "accepted (a decompression bomb is refused before decoding)."
                )
            if getattr(image, "n_frames", 1) > 1:
                raise BadPhoto("The image has several frames (an animation), not one photo.")
            image.load()
    except GridmapError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadPhoto(f"The photo has too many pixels: {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error) as exc:
        raise BadPhoto(
            f"The photo cannot be decoded completely (truncated or damaged): {exc}"
        ) from None
    return image


def _decoded(image: Image.Image) -> Image.Image:
    """The pixels turned upright as the EXIF orientation says, without any metadata."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            upright = ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError, struct.error, KeyError, TypeError, Warning):
        upright = image.copy()
    if upright.mode not in ("RGB", "RGBA", "L", "LA"):
        upright = upright.convert("RGBA" if "A" in upright.getbands() else "RGB")
    upright.info = {}
    return upright


def _encoded(image: Image.Image, kind: str) -> bytes:
    out = io.BytesIO()
    if kind == "JPEG":
        image.convert("RGB" if image.mode != "L" else "L").save(out, "JPEG", quality=90)
    elif kind == "PNG":
        image.save(out, "PNG")
    else:
        image.save(out, "WEBP", quality=90)
    return out.getvalue()


def _thumbnail(image: Image.Image) -> bytes:
    small = image.convert("RGB")
    small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    out = io.BytesIO()
    small.save(out, "JPEG", quality=80)
    return out.getvalue()


# ---------------------------------------------------------------------- what hides beside


def _check_structure(kind: str, data: bytes) -> None:
    """Refuse data after the image's end (a polyglot: a ZIP, HTML or a script appended) and
    markup or an archive in its metadata."""
    metadata, end = {"JPEG": _jpeg_parts, "PNG": _png_parts, "WEBP": _webp_parts}[kind](data)
    if end is None:
        raise BadPhoto("The photo is truncated: its end is missing.")
    rest = data[end:]
    if rest.strip(b"\x00") and not (kind == "JPEG" and rest.startswith(_JPEG)):
        raise BadPhoto(
            f"{len(rest)} bytes follow the end of the image (another file appended to it)."
        )
    if any(_HIDDEN.search(part) for part in metadata) or _HIDDEN.search(rest):
        raise BadPhoto("The photo's metadata holds markup, a script or an archive.")


def _jpeg_parts(data: bytes) -> tuple[list[bytes], int | None]:
    """The metadata segments of a JPEG and where its image ends (after EOI), or None."""
    parts: list[bytes] = []
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return parts, None
        marker = data[at + 1]
        if marker == 0xFF:
            at += 1
            continue
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        parts.append(data[at + 4 : at + 2 + length])
        at += 2 + length
        if marker == 0xDA:  # start of scan: entropy-coded data up to the EOI marker
            return parts, _jpeg_end(data, at)
    return parts, None


def _jpeg_end(data: bytes, at: int) -> int | None:
    while True:
        at = data.find(b"\xff", at)
        if at < 0 or at + 1 >= len(data):
            return None
        marker = data[at + 1]
        if marker == 0xD9:
            return at + 2
        if marker == 0xFF:  # fill bytes before a marker
            at += 1
            continue
        if marker == 0xDA or (0xC0 <= marker <= 0xFE and marker not in range(0xD0, 0xD8)):
            # Another scan (progressive) or a table between scans: skip its segment.
            if at + 4 > len(data):
                return None
            (length,) = struct.unpack(">H", data[at + 2 : at + 4])
            at += 2 + length
        else:
            at += 2


def _png_parts(data: bytes) -> tuple[list[bytes], int | None]:
    parts: list[bytes] = []
    at = len(_PNG)
    while at + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        if kind not in (b"IDAT", b"IHDR", b"PLTE"):
            parts.append(data[at + 8 : at + 8 + length])
        at += 12 + length
        if kind == b"IEND":
            return parts, at if at <= len(data) else None
    return parts, None


def _webp_parts(data: bytes) -> tuple[list[bytes], int | None]:
    (size,) = struct.unpack("<I", data[4:8])
    end = 8 + size + (size & 1)
    if end > len(data) + (size & 1):
        return [], None
    parts: list[bytes] = []
    at = 12
    while at + 8 <= min(end, len(data)):
        kind, length = struct.unpack("<4sI", data[at : at + 8])
        if kind not in (b"VP8 ", b"VP8L", b"ALPH", b"ANMF"):
            parts.append(data[at + 8 : at + 8 + length])
        at += 8 + length + (length & 1)
    return parts, min(end, len(data))


# --------------------------------------------------------------------------- EXIF as data


def exif_facts(image: Image.Image) -> dict[str, Any]:
    """The EXIF's place and time worth keeping: ``taken_at`` (the camera's local time, ISO),
    ``gps`` ({lon, lat}, WGS 84), and ``notes`` saying what was left out and why.

    GPS tags present but unreadable (wrong types, a zero denominator, an unknown reference,
    a GPS block the file does not hold) refuse the photo (422); readable but impossible
    values (beyond the poles, 0°N 0°E) are left out with a note.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            exif = image.getexif()
    except (OSError, ValueError, SyntaxError, struct.error, Warning) as exc:
        raise BadPhoto(f"The photo's EXIF metadata is malformed: {exc}") from None
    facts: dict[str, Any] = {}
    notes: list[str] = []
    taken = _taken_at(exif)
    if taken is not None:
        facts["taken_at"] = taken
    if _GPS_IFD in exif:
        gps = _gps(exif)
        if isinstance(gps, str):
            notes.append(gps)
        else:
            facts["gps"] = gps
    if notes:
        facts["notes"] = notes
    return facts


def _taken_at(exif: Image.Exif) -> str | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            value = exif.get_ifd(_EXIF_IFD).get(0x9003) or exif.get(0x0132)
    except (OSError, ValueError, SyntaxError, struct.error, KeyError, TypeError, Warning):
        return None
    if not isinstance(value, str):
        return None
    try:
        taken = dt.datetime.strptime(value.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    return taken.isoformat() if 1990 <= taken.year <= 2100 else None


def _gps(exif: Image.Exif) -> dict[str, float] | str:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            tags = exif.get_ifd(_GPS_IFD)
    except (OSError, ValueError, SyntaxError, struct.error, KeyError, TypeError, Warning):
        tags = {}
    if not tags:
        raise BadPhoto("The photo's EXIF GPS block is missing or unreadable.")
    if not {1, 2, 3, 4} <= set(tags):
        return "GPS left out: latitude or longitude missing"
    lat = _degrees(tags[2], tags[1], "NS")
    lon = _degrees(tags[4], tags[3], "EW")
    if abs(lat) > 90 or abs(lon) > 180 or (lat == 0 and lon == 0):
        return f"GPS left out: {lat:.6f}, {lon:.6f} is not a place on Earth's surface"
    return {"lon": round(lon, 7), "lat": round(lat, 7)}


def _degrees(value: Any, ref: Any, refs: str) -> float:
    """Degrees, minutes, seconds and their reference as signed degrees, or a 422."""
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    ref = ref.strip("\x00 ").upper() if isinstance(ref, str) else ""
    parts = value if isinstance(value, tuple) else ()
    try:
        numbers = [float(p) for p in parts]
    except (TypeError, ValueError, ZeroDivisionError):
        numbers = []
    if ref not in refs or len(numbers) != 3 or not all(math.isfinite(n) for n in numbers):
        raise BadPhoto(
            "The photo's EXIF GPS is malformed (a coordinate must be three finite rationals "
            f"with a reference {refs[0]} or {refs[1]})."
        )
    d, m, s = numbers
    if min(numbers) < 0 or m >= 60 or s >= 60:
        raise BadPhoto("The photo's EXIF GPS is malformed (minutes and seconds run 0 to 59).")
    degrees = d + m / 60 + s / 3600
    return -degrees if ref == refs[1] else degrees
