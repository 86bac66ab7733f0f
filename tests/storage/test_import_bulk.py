"""The bulk household import: the same rows, the same refusals, as the row-by-row path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from gridmap.grid import ingest
from gridmap.storage import binary_copy as bc
from tests.helpers import households_csv, row_counts

GOOD = "116.405,39.915"  # micro-grid 01001 of the small grid
HEADER = "id,lon,lat,address,building,residents,care_tags"

_ROWS_SQL = """
SELECT id, ST_AsEWKT(geom), address, building, unit, room, residents, care_tags, micro_grid_id,
       address_key, building_key
  FROM household ORDER BY id
"""
_SHAPE_SQL = """
SELECT (SELECT array_agg(indexdef ORDER BY indexname) FROM pg_indexes
         WHERE tablename = 'household'),
       (SELECT array_agg(pg_get_constraintdef(oid) ORDER BY conname) FROM pg_constraint
         WHERE conrelid = 'household'::regclass),
       (SELECT array_agg(tgenabled ORDER BY tgname) FROM pg_trigger
         WHERE tgname IN ('household_micro_grid', 'household_address_keys'))
"""


def _imported(session, path, *, bulk, rows=3):
    """What the import wrote, or every problem it reported, then rolled back."""
    try:
        report = ingest.import_households(
            session, ingest.table_chunks(path, rows=rows), "EPSG:4326", bulk=bulk
        )
    except ingest.ImportRejected as exc:
        session.rollback()
        return "rejected", sorted((e["where"], e["message"]) for e in exc.errors)
    written = session.execute(text(_ROWS_SQL)).all()
    session.rollback()
    return report.as_text(), written


def _write(tmp_path, lines):
    path = tmp_path / "households.csv"
    path.write_text(HEADER + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_bulk_writes_what_the_row_by_row_path_writes(session, small_grid, tmp_path):
    path = _write(
        tmp_path,
        [
            f"1,{GOOD},甲1号,1,2,elderly_alone;disabled",
            "2,116.415,39.905,乙\\2号\t,,3,",
            ",116.6,39.95,网格外,,1,独居老人、低保",  # outside every micro-grid, no id
            f'7,{GOOD},"丙,""7""号",3,0,veteran',
            "3,116.415,39.915,丁3号,,99,disabled;disabled",
        ],
    )
    slow = _imported(session, path, bulk=False, rows=2)
    shape = session.execute(text(_SHAPE_SQL)).one()
    bulk = _imported(session, path, bulk=True, rows=2)
    assert bulk == slow
    assert len(bulk[1]) == 5 and "row 4 (id 8)" in bulk[0]
    assert session.execute(text(_SHAPE_SQL)).one() == shape


#: Addresses whose keys take every step of the rule: NFKC (full-width digits, letters, spaces
#: and brackets), white space (not U+001C, which glibc does not count) and ASCII punctuation
#: dropped, lower case (U+0130 to one letter), the first building number.
TRICKY_ADDRESSES = [
    "东城区１２号楼３单元４０１",
    "东城区 12 号楼",
    "东城区12号 楼",
    "Ａ座１５栋２单元",
    "新村5幢-301",
    "号楼12栋",
    "3号楼12栋",
    "和平里\u30007栋（东）",
    "\u0130stanbul Road 9幢",
    "胡同\x1c5号",
    "没有楼号的地址",
]


def test_bulk_keys_equal_the_trigger_keys(session, small_grid, tmp_path):
    lines = [f"{i},{GOOD},{a},,1," for i, a in enumerate(TRICKY_ADDRESSES, 1)]
    slow = _imported(session, _write(tmp_path, lines), bulk=False)
    bulk = _imported(session, _write(tmp_path, lines), bulk=True)
    assert bulk == slow
    assert [row[-2:] for row in bulk[1]] == [
        ("东城区12号楼3单元401", "东城区12号楼"),
        ("东城区12号楼", "东城区12号楼"),
        ("东城区12号楼", "东城区12号楼"),
        ("a座15栋2单元", "a座15栋"),
        ("新村5幢301", "新村5幢"),
        ("号楼12栋", "号楼12栋"),
        ("3号楼12栋", "3号楼"),
        ("和平里7栋东", "和平里7栋"),
        ("istanbulroad9幢", "istanbulroad9幢"),
        ("胡同\x1c5号", None),
        ("没有楼号的地址", None),
    ]


def test_planted_bad_rows_write_nothing_and_are_each_reported(session, small_grid, tmp_path):
    ingest.import_households(
        session,
        households_csv([{"id": 50, "lon": 116.405, "lat": 39.915, "address": "在库"}]),
        "EPSG:4326",
    )
    session.commit()
    before = row_counts(session)
    lines = [
        f"1,{GOOD},好的,,1,",  # row 2
        f"2,{GOOD},好的,,1,",
        f"3,{GOOD},好的,,1,",
        "4,nan,39.9,坏坐标,,1,",  # row 5: chunk 2, the first problem
        "5,39.91,116.41,经纬颠倒,,1,",
        "6,2.35,48.85,巴黎,,1,",
        f"7,{GOOD},有\0空字符,,1,",  # row 8
        f"8,{GOOD},好的,1\0,1,",
        f"9,{GOOD},   ,,1,",
        f"10,{GOOD},好的,,100,",  # row 11
        f"11,{GOOD},好的,,1,unknown_tag",
        f"12,{GOOD},好的,,1.5,",
        f"13,{GOOD},重复,,1,",  # row 14
        f"13,{GOOD},重复,,1,",
        f"1,{GOOD},前面有了,,1,",
        f"50,{GOOD},库里有了,,1,",  # row 17
        "14,116.6,39.95,网格外但没错,,1,",
    ]
    slow = _imported(session, _write(tmp_path, lines), bulk=False)
    bulk = _imported(session, _write(tmp_path, lines), bulk=True)
    assert bulk[0] == "rejected"
    assert bulk == slow
    assert [w for w, _ in bulk[1]] == sorted(
        f"row {n}" for n in (5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17)
    )
    assert ("row 8", "a text holds a NUL character (\\0), which the database cannot store") in (
        bulk[1]
    )
    assert row_counts(session) == before


def test_ids_taken_found_at_the_move_are_each_reported(session, small_grid, tmp_path):
    """No problem in any chunk alone: the primary key refuses the move, which is undone."""
    ingest.import_households(
        session,
        households_csv([{"id": 50, "lon": 116.405, "lat": 39.915, "address": "在库"}]),
        "EPSG:4326",
    )
    session.commit()
    shape = session.execute(text(_SHAPE_SQL)).one()
    lines = [f"{i},{GOOD},好的,,1," for i in (1, 2, 3, 4, 2, 50, 6, 1, 2)]
    slow = _imported(session, _write(tmp_path, lines), bulk=False)
    bulk = _imported(session, _write(tmp_path, lines), bulk=True)
    assert bulk == slow
    assert [w for w, _ in bulk[1]] == ["row 10", "row 6", "row 7", "row 9"]
    assert session.execute(text(_SHAPE_SQL)).one() == shape
    assert session.scalar(text("SELECT count(*) FROM household")) == 1


def test_large_loads_rebuild_the_indexes_small_ones_keep_them(session, small_grid, tmp_path):
    shape = session.execute(text(_SHAPE_SQL)).one()
    path = _write(tmp_path, [f"{i},{GOOD},好的,,1," for i in range(1, 41)])
    ingest.import_households(session, ingest.table_chunks(path), "EPSG:4326", bulk=True)
    assert session.execute(text(_SHAPE_SQL)).one() == shape
    assert session.scalar(text("SELECT count(*) FROM household WHERE micro_grid_id IS NULL")) == 0

    begin = text("SELECT gridmap_household_bulk_begin(:n)")
    assert session.scalar(begin, {"n": 5}) is False  # 5 × 4 < 40: indexes kept
    kept = session.execute(text(_SHAPE_SQL)).one()
    assert kept[:2] == shape[:2] and kept[2] == ["D", "D"]
    session.execute(text("SELECT gridmap_household_bulk_end()"))
    assert session.scalar(begin, {"n": 10}) is True
    parked = session.execute(text(_SHAPE_SQL)).one()
    assert parked[0] == ["CREATE UNIQUE INDEX pk_household ON public.household USING btree (id)"]
    assert not any(c.startswith("FOREIGN KEY") for c in parked[1])
    session.execute(text("SELECT gridmap_household_bulk_end()"))
    assert session.execute(text(_SHAPE_SQL)).one() == shape


def test_the_move_never_leaves_the_triggers_off(session, small_grid):
    with pytest.raises(Exception, match="household_bulk_parked"):
        session.execute(text("SELECT gridmap_household_bulk_end()"))
    session.rollback()
    session.execute(text("SELECT gridmap_household_bulk_begin(1)"))
    with pytest.raises(Exception, match="already exists"):
        session.execute(text("SELECT gridmap_household_bulk_begin(1)"))
    session.rollback()
    assert session.execute(text(_SHAPE_SQL)).one()[2] == ["O", "O"]


def test_binary_copy_round_trips(session):
    frame = pd.DataFrame(
        {
            "t": ["", None, "东城区\\甲1号\t", "x" * 300],
            "n": [1, -2, 2**40, 0],
            "f": [116.405, -0.0, np.nan, 1e-300],
            "tags": [[], ["disabled", "veteran"], [], ["elderly_alone"]],
            "same": ["甲", "乙", "丙", "丁"],  # one width: written at offsets
            "even": ["ab", "a", "abc", "cd"],  # 8 bytes: as many as four of the first
        }
    )
    codes = np.array([0, 1, 0, 2])
    fields = [
        bc.texts(frame["t"]),
        bc.fixed(frame["n"].to_numpy(), "i8", null=np.array([False, False, False, True])),
        bc.fixed(frame["f"].to_numpy(), "f8"),
        bc.lookup(
            codes, [bc.text_array(t) for t in ([], ["disabled", "veteran"], ["elderly_alone"])]
        ),
        bc.fixed(np.array([1, 2, 3, 4]), "i2"),
        bc.texts(frame["same"]),
        bc.texts(frame["even"]),
    ]
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE rt"
            " (t text, n bigint, f float8, tags text[], s smallint, same text, even text)"
        )
        with cur.copy("COPY rt FROM STDIN (FORMAT binary)") as copy:
            copy.write(bc.copy_buffer(fields))
        cur.execute("SELECT t, n, f::text, tags, s, same, even FROM rt")
        rows = cur.fetchall()
    assert rows == [
        ("", 1, "116.405", [], 1, "甲", "ab"),
        (None, -2, "-0", ["disabled", "veteran"], 2, "乙", "a"),
        ("东城区\\甲1号\t", 2**40, "NaN", [], 3, "丙", "abc"),
        ("x" * 300, None, "1e-300", ["elderly_alone"], 4, "丁", "cd"),
    ]
    with pytest.raises(ValueError, match="NUL"):
        bc.texts(pd.Series(["a\0b"]))


def test_a_file_without_rows_moves_nothing(session, small_grid, tmp_path):
    shape = session.execute(text(_SHAPE_SQL)).one()
    report = ingest.import_households(
        session, ingest.table_chunks(_write(tmp_path, [])), "EPSG:4326", bulk=True
    )
    assert report.written == 0
    assert session.execute(text(_SHAPE_SQL)).one() == shape


def test_point_features_in_gcj02_import_alike_both_ways(session, small_grid):
    import geopandas as gpd
    from shapely.geometry import Point

    features = gpd.GeoDataFrame(
        {"编号": [5, 6], "地址": ["甲5号", "乙6号"], "关爱标签": ["残疾人", ""]},
        geometry=[Point(116.4112, 39.9136), Point(116.4212, 39.9036)],
        crs="EPSG:4326",
    )

    def imported(bulk):
        report = ingest.import_households(session, features, "GCJ02", bulk=bulk)
        written = session.execute(text(_ROWS_SQL)).all()
        session.rollback()
        return report.as_text(), written

    slow = imported(False)
    assert imported(True) == slow
    assert [row[7] for row in slow[1]] == [["disabled"], []]
