"""Reading import files: every layer, every encoding, the common headers, in chunks.

The rules (the README's Import section shows them to users):

- Layers. A grid file is read layer by layer (every layer of a GeoPackage, every folder of a
  KML), or only ``layer`` when given; other files with several non-empty layers or sheets need
  ``layer``, and the error lists them. Never a silent first layer.
- Levels. A grid's level comes from its ``level`` column, else from its layer's name
  (社区/片区/片区网格/微网格, community/zone/micro; the most specific word wins).
- Encodings. ``encoding`` when given; else a Shapefile's ``.cpg`` (or the code page in its
  ``.dbf``); else UTF-8 when the text decodes as UTF-8, else GB18030 (which contains GBK).
  Text that still reads as mojibake ('ÉçÇø', U+FFFD) is refused, never stored.
- Headers. Chinese and English aliases of each field (``经度`` → ``lon``…) are renamed to the
  field's name by :func:`canonical_columns`; two columns meaning one field are refused.

Messages are Chinese first and say what to do, then English.
"""

from __future__ import annotations

import codecs
import re
import struct
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from gridmap.core.errors import InvalidInput

#: Rows per chunk of a streamed table (one chunk read, one on its way: memory stays bounded).
#: An import locates its chunks with one :class:`gridmap.spatial.locate.Locator`, which builds
#: its raster (≈ 0.9 s for a 10 000-grid city) once 8 points per micro-grid have come.
CHUNK_ROWS = 50_000
_SAMPLE_BYTES = 4 << 20
_TABLE_SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm")
_EXCEL_SUFFIXES = (".xlsx", ".xlsm")

#: Words in a layer name or a level value, most specific level first.
LEVEL_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("micro", ("微网格", "micro")),
    ("zone", ("片区", "zone")),
    ("community", ("社区", "community")),
)

BUILDING = "building"
#: Words in a layer's name that say it holds buildings.
BUILDING_WORDS = ("楼栋", "楼宇", "建筑", "building")
#: Building layer headers: each field's aliases (a Shapefile cuts names to 10 characters).
BUILDING_ALIASES: Mapping[str, tuple[str, ...]] = {
    "number": ("number", "楼号", "楼栋号", "栋号", "楼栋编号", "楼栋编码", "幢号", "bldg_no"),
    "name": ("name", "名称", "楼栋名称", "楼名", "建筑名称"),
    "floors": ("floors", "层数", "楼层数", "总层数", "楼层"),
    "units": ("units", "单元数", "单元数量"),
    "micro_grid": ("micro_grid", "微网格编码", "所属微网格", "微网格", "网格编码"),
}


def is_building_layer(name: object) -> bool:
    text = str(name).strip().lower()
    return any(w in text for w in BUILDING_WORDS)


#: Grid file headers (a KML keeps the name as ``Name``; Shapefile cuts names to 10 characters).
GRID_ALIASES: Mapping[str, tuple[str, ...]] = {
    "code": ("code", "编码", "网格编码", "网格代码", "代码"),
    "name": ("name", "名称", "网格名称"),
    "level": ("level", "层级", "级别", "网格层级", "网格级别"),
    "parent_code": ("parent_code", "parent_cod", "上级编码", "上级网格编码", "父级编码"),
}


# ---------------------------------------------------------------------------- messages


def _not_decodable(path: Path, encoding: str) -> InvalidInput:
    utf8 = encoding.lower().replace("-", "").replace("_", "").startswith("utf8")
    encoding = "UTF-8" if utf8 else encoding.upper()
    other = "GB18030" if utf8 else "UTF-8"
    return InvalidInput(
        f"{path.name}: 文件不是 {encoding} 编码，请用 --encoding {other} 重试或另存为 UTF-8"
        f"（the file is not {encoding}: retry with --encoding {other}, or save it as UTF-8）"
    )


def _unknown_encoding(path: Path) -> InvalidInput:
    return InvalidInput(
        f"{path.name}: 无法识别文件编码（既不是 UTF-8 也不是 GB18030/GBK），请用 --encoding 指定，"
        f"如 --encoding BIG5，或另存为 UTF-8（unknown text encoding: give --encoding, or save "
        f"the file as UTF-8）"
    )


def _layers_message(path: Path, names: Sequence[str], counts: Sequence[int]) -> str:
    listed = "、".join(f"{n}（{c} 条）" for n, c in zip(names, counts, strict=True))
    return f"{path.name} 有多个图层/工作表：{listed}"


# ---------------------------------------------------------------------------- encodings


def _decodes(data: bytes, encoding: str) -> bool:
    """Whether ``data`` (possibly cut mid-character at its end) is text in ``encoding``."""
    try:
        codecs.getincrementaldecoder(encoding)().decode(data, final=False)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(path: Path, sample: bytes) -> str:
    """UTF-8 (a byte-order mark allowed) when ``sample`` decodes so, else GB18030."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for encoding in ("utf-8", "gb18030"):
        if _decodes(sample, encoding):
            return encoding
    raise _unknown_encoding(path)


def _dbf_text(dbf: Path) -> bytes:
    """The field names and the first records of a ``.dbf`` (the bytes that hold text)."""
    with dbf.open("rb") as f:
        head = f.read(32)
        if len(head) < 32:
            return b""
        header_len, record_len = struct.unpack("<HH", head[8:12])
        fields = f.read(max(header_len - 32, 0))
        names = b"".join(
            fields[i : i + 11].split(b"\0")[0] + b"\n"
            for i in range(0, len(fields) - 31, 32)
            if fields[i] != 0x0D
        )
        f.seek(header_len)
        records = f.read(max(record_len, 1) * max(_SAMPLE_BYTES // max(record_len, 1), 1))
    return names + records


def _shapefile_encoding(path: Path, layer: str | None) -> str | None:
    """``None`` lets GDAL decide (a ``.cpg`` or the ``.dbf`` code page says); else detected."""
    dbf = path.with_suffix(".dbf")
    if path.with_suffix(".cpg").exists() or not dbf.exists():
        return None
    if pyogrio.read_info(path, layer=layer).get("encoding") not in (None, "ISO-8859-1"):
        return None
    return detect_encoding(path, _dbf_text(dbf))


_MOJIBAKE_HINT = re.compile("[\u0080-\u02ff\u2010-\u20ac\u2122\ufffd]")
_CJK = re.compile("[\u3400-\u9fff]")


def _garbled(text: str) -> bool:
    """Text that is mojibake: U+FFFD, or GBK/UTF-8 bytes read as Latin-1 or Windows-1252
    ('ÉçÇø' or 'ç¤¾åŒº' for 社区)."""
    if "\ufffd" in text:
        return True
    for misread in ("latin-1", "cp1252"):
        try:
            raw = text.encode(misread)
        except UnicodeEncodeError:
            continue
        for encoding in ("utf-8", "gb18030"):
            try:
                if _CJK.search(raw.decode(encoding)):
                    return True
            except UnicodeDecodeError:
                continue
    return False


def refuse_garbled(frame: pd.DataFrame, where: str, *, first_row: int = 2) -> None:
    """Raise when a header or a text value of ``frame`` is mojibake; say what to do."""
    found = [f"列名 {c!r}" for c in frame.columns if isinstance(c, str) and _garbled(c)]
    for column in frame.columns:
        values = frame[column]
        if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
            continue
        text = values.astype(str)
        if not _MOJIBAKE_HINT.search("\n".join(text.dropna().tolist())):
            continue  # the usual case, decided in one pass over the column
        for pos in np.flatnonzero(text.str.contains(_MOJIBAKE_HINT, na=False).to_numpy()):
            if _garbled(text.iloc[pos]):
                found.append(f"第 {pos + first_row} 行 {column} 列 {text.iloc[pos]!r}")
            if len(found) >= 5:
                break
        if len(found) >= 5:
            break
    if found:
        raise InvalidInput(
            f"{where}: 文字乱码（{'；'.join(found)}），编码不对："
            f"请用 --encoding GB18030（GBK 文件）或 --encoding UTF-8 重试，"
            f"Shapefile 可加上写有编码的 .cpg 文件；未写入任何数据"
            f"（garbled text: the file's encoding was misread; retry with --encoding, nothing "
            f"written）"
        )


# ---------------------------------------------------------------------------- headers


def _header_key(name: object) -> str:
    """A header as compared with aliases: NFKC (full-width → half-width), lower case, no
    unit hint in brackets (``经度(GCJ02)``), spaces and dashes as ``_``."""
    text = unicodedata.normalize("NFKC", str(name)).strip().lower()
    text = re.sub(r"[(\[].*?[)\]]", "", text).strip()
    return re.sub(r"[\s\-]+", "_", text)


def canonical_columns(
    frame: pd.DataFrame, aliases: Mapping[str, tuple[str, ...]], what: str
) -> pd.DataFrame:
    """Rename every column that is an alias of a field to the field's name.

    Two columns meaning one field are refused (which one holds the coordinates is not
    something to guess).
    """
    keys = {_header_key(c): c for c in frame.columns}
    renames: dict[Any, str] = {}
    for field_name, words in aliases.items():
        found = [keys[w] for w in dict.fromkeys(_header_key(w) for w in words) if w in keys]
        if len(found) > 1:
            listed = "、".join(map(str, found))
            raise InvalidInput(
                f"{what}: 列 {listed} 都表示 {field_name}，请只保留其中一列"
                f"（columns {', '.join(map(str, found))} all mean {field_name}: keep one）"
            )
        if found and found[0] != field_name:
            renames[found[0]] = field_name
    return frame.rename(columns=renames) if renames else frame


def level_of(name: object) -> str | None:
    """The grid level a layer name or level value names, e.g. 片区网格 → zone; else None."""
    text = str(name).strip().lower()
    for level, words in LEVEL_WORDS:
        if any(w in text for w in words):
            return level
    return None


# ---------------------------------------------------------------------------- vector files


def _vector_layers(path: Path) -> list[tuple[str, int]]:
    """(name, feature count) of each non-empty layer of a vector file."""
    try:
        names = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
        counts = [int(pyogrio.read_info(path, layer=n).get("features", -1)) for n in names]
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise InvalidInput(
            f"{path.name}: 无法读取，不是 GeoJSON/Shapefile/GPKG/KML 文件"
            f"（not a readable GeoJSON/Shapefile/GPKG/KML: {exc}）"
        ) from None
    layers = [(n, c) for n, c in zip(names, counts, strict=True) if c != 0]
    return layers or list(zip(names, counts, strict=True))[:1]


def _chosen_layers(path: Path, layer: str | None) -> list[tuple[str, int]]:
    layers = _vector_layers(path)
    if layer is None:
        return layers
    chosen = [(n, c) for n, c in layers if n == layer]
    if not chosen:
        names, counts = zip(*layers, strict=True) if layers else ((), ())
        raise InvalidInput(
            f"没有图层 {layer!r}。{_layers_message(path, names, counts)}"
            f"（no layer {layer!r} in {path.name}）"
        )
    return chosen


def _read_layer(path: Path, layer: str, encoding: str | None, **kw: Any) -> gpd.GeoDataFrame:
    try:
        frame = pyogrio.read_dataframe(path, layer=layer, encoding=encoding, **kw)
    except UnicodeDecodeError:
        raise _not_decodable(path, encoding or "UTF-8") from None
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise InvalidInput(
            f"{path.name}: 无法读取图层 {layer}（not a readable layer: {exc}）"
        ) from None
    assert isinstance(frame, gpd.GeoDataFrame)
    return frame


def _known(encoding: str | None) -> str | None:
    """``encoding`` when Python knows it (``--encoding`` is checked before any reading)."""
    if encoding is None:
        return None
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InvalidInput(
            f"不认识的编码 {encoding!r}，请用 UTF-8、GB18030 或 BIG5 等"
            f"（unknown encoding {encoding!r}: use e.g. UTF-8, GB18030 or BIG5）"
        ) from None
    return encoding


def _encoding_for(path: Path, layer: str | None, encoding: str | None) -> str | None:
    if encoding or path.suffix.lower() not in (".shp", ".dbf"):
        return _known(encoding)
    return _shapefile_encoding(path, layer)


def _one_layer(path: Path, layer: str | None) -> tuple[str, int]:
    """The one layer to read (name, features): ``layer``, or the file's only non-empty one."""
    layers = _chosen_layers(path, layer)
    if len(layers) > 1:
        names, counts = zip(*layers, strict=True)
        raise InvalidInput(
            f"{_layers_message(path, names, counts)}；请用 --layer 指定要导入的图层"
            f"（several layers: choose one with --layer）"
        )
    return layers[0]


def read_features(
    path: Path, *, layer: str | None = None, encoding: str | None = None
) -> gpd.GeoDataFrame:
    """Read one layer of a GeoJSON, Shapefile, GeoPackage or KML file.

    A file with several non-empty layers needs ``layer``; the error lists them.
    """
    name, _ = _one_layer(path, layer)
    frame = _read_layer(path, name, _encoding_for(path, name, encoding))
    refuse_garbled(frame, path.name, first_row=1)
    return frame


def read_grid_features(
    path: Path, *, layer: str | None = None, encoding: str | None = None
) -> gpd.GeoDataFrame:
    """Read every layer (or only ``layer``) of a grid file, with each grid's level.

    Headers are renamed by :data:`GRID_ALIASES`; a grid's level is its ``level`` value (Chinese
    level words accepted), else the level its layer's name says. A grid with neither is
    refused naming its layer. All layers must be in one coordinate system.
    """
    frames = []
    for name, _ in _chosen_layers(path, layer):
        frame = _read_layer(path, name, _encoding_for(path, name, encoding))
        refuse_garbled(frame, f"{path.name} 图层 {name}", first_row=1)
        if is_building_layer(name):  # 楼栋: read with its own headers (ingest.buildings)
            frame = canonical_columns(frame, BUILDING_ALIASES, f"{path.name} 图层 {name}")
            frames.append(frame.assign(level=BUILDING, layer=name))
            continue
        frame = canonical_columns(frame, GRID_ALIASES, f"{path.name} 图层 {name}")
        frames.append(_with_levels(frame, name, path))
    crs = {str(f.crs) for f in frames if f.crs is not None}
    if len(crs) > 1:
        raise InvalidInput(
            f"{path.name}: 各图层坐标系不同（{'、'.join(sorted(crs))}），"
            f"请统一后导入或用 --layer 逐层导入"
            f"（layers are in different coordinate systems: import them one by one with --layer）"
        )
    if len(frames) == 1:
        return frames[0]
    joined = pd.concat(frames, ignore_index=True)
    return gpd.GeoDataFrame(joined, geometry="geometry", crs=frames[0].crs)


def _with_levels(frame: gpd.GeoDataFrame, layer: str, path: Path) -> gpd.GeoDataFrame:
    given = (
        frame["level"].astype(str).str.strip()
        if "level" in frame
        else pd.Series("", index=frame.index)
    )
    given = given.where(~given.isin(["", "nan", "None", "<NA>"]), "")
    from_value = given.map(lambda v: level_of(v) or v)
    from_layer = level_of(layer)
    missing = from_value == ""
    if missing.any() and from_layer is None:
        raise InvalidInput(
            f"{path.name} 图层 {layer!r}: {int(missing.sum())} 个网格没有层级：请加 level 列"
            f"（社区/片区/微网格），或把图层改名为 社区、片区网格 或 微网格"
            f"（no level: add a level column or name the layer after its level）"
        )
    out = frame.copy()
    out["level"] = from_value.where(~missing, from_layer or "")
    out["layer"] = layer
    return out


def vector_chunks(
    path: Path, *, layer: str | None = None, encoding: str | None = None, rows: int = CHUNK_ROWS
) -> Chunks:
    """One layer of a vector file in chunks of ``rows`` features (``skip_features``)."""
    name, count = _one_layer(path, layer)
    enc = _encoding_for(path, name, encoding)

    def chunks() -> Iterator[pd.DataFrame]:
        start = 0
        while True:
            part = _read_layer(path, name, enc, skip_features=start, max_features=rows)
            if part.empty:
                return
            refuse_garbled(part, path.name, first_row=start + 1)
            yield part
            start += len(part)
            if len(part) < rows:
                return

    return Chunks(chunks(), _ceil(count, rows), first_row=1)


# ---------------------------------------------------------------------------- tables


@dataclass
class Chunks:
    """A table read in chunks: iterate for DataFrames; ``len`` is the number of chunks
    expected (for a progress bar); ``first_row`` numbers the first row as people see it
    (2 under a header, 1 for features)."""

    frames: Iterator[pd.DataFrame]
    expected: int
    first_row: int = 2

    def __iter__(self) -> Iterator[pd.DataFrame]:
        return self.frames

    def __len__(self) -> int:
        return self.expected

    def close(self) -> None:
        """Stop reading (closes the file when the reading stopped half-way)."""
        close = getattr(self.frames, "close", None)
        if close is not None:
            close()


def _ceil(n: int, d: int) -> int:
    return max(-(-n // d), 1) if n >= 0 else 1


def is_table(path: Path) -> bool:
    """CSV or Excel, as opposed to a vector file."""
    return path.suffix.lower() in _TABLE_SUFFIXES


def _sample(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(_SAMPLE_BYTES)


def _lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 24), b""))


def table_chunks(
    path: Path, *, layer: str | None = None, encoding: str | None = None, rows: int = CHUNK_ROWS
) -> Chunks:
    """A CSV (every value text) or one sheet of an Excel workbook, in chunks of ``rows``.

    The CSV's encoding is ``encoding`` or detected from its first megabytes; a later chunk
    that does not decode stops the import with a message saying what to do.
    """
    if path.suffix.lower() in _EXCEL_SUFFIXES:
        sheet = _excel_sheet(path, layer)
        return Chunks(
            (sheet.iloc[i : i + rows] for i in range(0, max(len(sheet), 1), rows)),
            _ceil(len(sheet), rows),
        )
    enc = _known(encoding) or detect_encoding(path, _sample(path))

    def chunks() -> Iterator[pd.DataFrame]:
        first = 2
        try:
            with pd.read_csv(
                path, dtype=str, keep_default_na=False, encoding=enc, chunksize=rows
            ) as reader:
                for part in reader:
                    refuse_garbled(part, path.name, first_row=first)
                    first += len(part)
                    yield part
        except UnicodeDecodeError:
            raise _not_decodable(path, enc) from None
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise InvalidInput(
                f"{path.name}: 不是可读的 CSV 文件（not a readable CSV file: {exc}）"
            ) from None

    return Chunks(chunks(), _ceil(max(_lines(path) - 1, 0), rows))


def _excel_sheet(path: Path, layer: str | None) -> pd.DataFrame:
    try:
        sheets = pd.read_excel(path, sheet_name=None, dtype=str, keep_default_na=False)
    except (ValueError, OSError, KeyError) as exc:
        raise InvalidInput(
            f"{path.name}: 无法读取 Excel 文件（not a readable workbook: {exc}）"
        ) from None
    filled = {n: s for n, s in sheets.items() if not s.empty} or dict(list(sheets.items())[:1])
    if layer is not None:
        if layer not in sheets:
            raise InvalidInput(
                f"没有工作表 {layer!r}。"
                f"{_layers_message(path, list(sheets), [len(s) for s in sheets.values()])}"
                f"（no sheet {layer!r}）"
            )
        return sheets[layer]
    if len(filled) > 1:
        raise InvalidInput(
            f"{_layers_message(path, list(filled), [len(s) for s in filled.values()])}；"
            f"请用 --layer 指定要导入的工作表（several sheets: choose one with --layer）"
        )
    return next(iter(filled.values()))


def read_table(
    path: Path, *, layer: str | None = None, encoding: str | None = None
) -> pd.DataFrame:
    """Read a whole CSV or Excel sheet with every column as text (see :func:`table_chunks`)."""
    parts = list(table_chunks(path, layer=layer, encoding=encoding))
    if not parts:
        return pd.DataFrame()
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
