"""Real-world import files (issue 12): every layer, every encoding, the common headers.

Each case either imports completely and correctly or exits non-zero with a message saying what
to do, writing nothing; never a silent partial import.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from sqlalchemy import select

from gridmap.grid import ingest
from gridmap.grid.ingest.readers import level_of, refuse_garbled
from gridmap.storage.models import Grid, Household
from tests.conftest import COMMUNITY, small_grid_frame
from tests.helpers import row_counts

LAYER_OF = {"community": "社区", "zone": "片区网格", "micro": "微网格"}


def stored_grids(session) -> dict[str, tuple[str, str]]:
    rows = session.execute(select(Grid.code, Grid.name, Grid.level)).all()
    return {r.code: (r.name, r.level) for r in rows}


def expected_grids() -> dict[str, tuple[str, str]]:
    frame = small_grid_frame()
    return {
        c: (n, lv) for c, n, lv in zip(frame["code"], frame["name"], frame["level"], strict=True)
    }


def import_grids(runner, path: Path, *extra: str):
    return runner.invoke(args=["gridmap", "import-grids", str(path), "--crs", "EPSG:4490", *extra])


def test_every_layer_of_a_geopackage_is_imported_with_its_level(runner, session, tmp_path):
    path = tmp_path / "grids.gpkg"
    frame = small_grid_frame()
    for level, layer in LAYER_OF.items():
        part = frame[frame["level"] == level].drop(columns="level")
        pyogrio.write_dataframe(part, path, layer=layer, driver="GPKG", append=path.exists())
    result = import_grids(runner, path)
    assert result.exit_code == 0, result.output
    assert "grids: 7 written" in result.output
    assert stored_grids(session) == expected_grids()


def test_one_layer_of_a_geopackage_with_layer(runner, session, tmp_path):
    path = tmp_path / "grids.gpkg"
    frame = small_grid_frame()
    for level, layer in LAYER_OF.items():
        part = frame[frame["level"] == level].drop(columns="level")
        pyogrio.write_dataframe(part, path, layer=layer, driver="GPKG", append=path.exists())
    result = import_grids(runner, path, "--layer", "社区")
    assert result.exit_code == 0, result.output
    assert stored_grids(session) == {COMMUNITY: ("测试社区", "community")}
    missing = import_grids(runner, path, "--layer", "街道")
    assert missing.exit_code == 1
    assert "没有图层 '街道'" in missing.output and "微网格（4 条）" in missing.output


def test_a_layer_without_level_is_refused_naming_it(runner, session, tmp_path):
    path = tmp_path / "grids.gpkg"
    frame = small_grid_frame().drop(columns="level")
    pyogrio.write_dataframe(frame.iloc[:1], path, layer="社区", driver="GPKG")
    pyogrio.write_dataframe(frame.iloc[1:], path, layer="其他", driver="GPKG", append=True)
    result = import_grids(runner, path)
    assert result.exit_code == 1
    assert "图层 '其他'" in result.output and "level" in result.output
    assert row_counts(session)["grid"] == 0


def _kml(frame) -> str:
    folders = []
    for level, layer in LAYER_OF.items():
        marks = []
        for row in frame[frame["level"] == level].itertuples():
            coords = " ".join(f"{x},{y}" for x, y in row.geometry.exterior.coords)
            data = f'<Data name="code"><value>{row.code}</value></Data>'
            if row.parent_code:
                data += f'<Data name="parent_code"><value>{row.parent_code}</value></Data>'
            marks.append(
                f"<Placemark><name>{row.name}</name><ExtendedData>{data}</ExtendedData>"
                f"<Polygon><outerBoundaryIs><LinearRing><coordinates>{coords}</coordinates>"
                f"</LinearRing></outerBoundaryIs></Polygon></Placemark>"
            )
        folders.append(f"<Folder><name>{layer}</name>{''.join(marks)}</Folder>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2">'
        f"<Document><name>东城网格</name>{''.join(folders)}</Document></kml>"
    )


def test_every_folder_of_a_kml_is_imported_with_its_level(runner, session, tmp_path):
    path = tmp_path / "grids.kml"
    path.write_text(_kml(small_grid_frame()), encoding="utf-8")
    result = import_grids(runner, path)
    assert result.exit_code == 0, result.output
    assert "grids: 7 written" in result.output
    assert stored_grids(session) == expected_grids()


def _gbk_shapefile(tmp_path: Path) -> Path:
    path = tmp_path / "grids.shp"
    frame = small_grid_frame().rename(columns={"parent_code": "parent_cod"})
    frame["level"] = frame["level"].map({"community": "社区", "zone": "片区", "micro": "微网格"})
    pyogrio.write_dataframe(frame, path, encoding="GBK")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    return path


def test_gbk_shapefile_without_cpg_keeps_its_chinese_names(runner, session, tmp_path):
    path = _gbk_shapefile(tmp_path)
    result = import_grids(runner, path)
    assert result.exit_code == 0, result.output
    assert stored_grids(session) == expected_grids()


def test_misread_shapefile_is_refused_not_stored_garbled(runner, session, tmp_path):
    result = import_grids(runner, _gbk_shapefile(tmp_path), "--encoding", "ISO-8859-1")
    assert result.exit_code == 1
    assert "文字乱码" in result.output and "--encoding GB18030" in result.output
    assert row_counts(session)["grid"] == 0


def import_households(runner, path: Path, *extra: str):
    return runner.invoke(
        args=["gridmap", "import-households", str(path), "--crs", "EPSG:4326", *extra]
    )


HOUSEHOLDS_CN = (
    "编号,经度,纬度,地址,楼栋,单元,户号,人数,关爱对象\n"
    "1,116.405,39.915,东四北大街1号,3号楼,2单元,101,2,独居老人\n"
    "2,116.415,39.905,东四北大街2号,,,,3,\n"
)


def test_gbk_csv_with_chinese_headers_imports(runner, session, small_grid, tmp_path):
    path = tmp_path / "households.csv"
    path.write_bytes(HOUSEHOLDS_CN.encode("gbk"))
    result = import_households(runner, path)
    assert result.exit_code == 0, result.output
    rows = session.execute(
        select(
            Household.id,
            Household.address,
            Household.building,
            Household.unit,
            Household.room,
            Household.residents,
            Household.care_tags,
            Grid.code,
        ).join(Grid, Grid.id == Household.micro_grid_id)
    ).all()
    assert sorted(tuple(r) for r in rows) == [
        (1, "东四北大街1号", "3号楼", "2单元", "101", 2, ["elderly_alone"], COMMUNITY + "01001"),
        (2, "东四北大街2号", None, None, None, 3, [], COMMUNITY + "02002"),
    ]


def test_gbk_csv_read_as_utf8_says_what_to_do(runner, session, small_grid, tmp_path):
    path = tmp_path / "households.csv"
    path.write_bytes(HOUSEHOLDS_CN.encode("gb18030"))
    result = import_households(runner, path, "--encoding", "UTF-8")
    assert result.exit_code == 1
    assert "文件不是 UTF-8 编码，请用 --encoding GB18030 重试或另存为 UTF-8" in result.output
    assert row_counts(session)["household"] == 0


@pytest.mark.parametrize(
    "header",
    ["经度,纬度,地址", "lng,lat,address", "Longitude,Latitude,门牌", "X坐标,Y坐标,详细地址"],
)
def test_coordinate_header_aliases(runner, session, small_grid, tmp_path, header):
    path = tmp_path / "households.csv"
    path.write_text(f"{header}\n116.405,39.915,甲1号\n116.415,39.905,乙2号\n", encoding="utf-8")
    result = import_households(runner, path)
    assert result.exit_code == 0, result.output
    located = session.execute(
        select(Household.address, Grid.code).join(Grid, Grid.id == Household.micro_grid_id)
    ).all()
    assert sorted(located) == [("乙2号", COMMUNITY + "02002"), ("甲1号", COMMUNITY + "01001")]


def test_two_columns_for_one_field_are_refused(runner, session, small_grid, tmp_path):
    path = tmp_path / "households.csv"
    path.write_text("x,经度,纬度,地址\n1,116.405,39.915,甲1号\n", encoding="utf-8")
    result = import_households(runner, path)
    assert result.exit_code == 1 and "列 x、经度 都表示 lon" in result.output
    assert row_counts(session)["household"] == 0


def test_no_coordinate_columns_says_which_names_work(runner, session, small_grid, tmp_path):
    path = tmp_path / "households.csv"
    path.write_text("东经度数,地址\n116.405,甲1号\n", encoding="utf-8")
    result = import_households(runner, path)
    assert result.exit_code == 1 and "请把列名改为 经度、纬度" in result.output


def test_household_geopackage_with_two_layers_needs_layer(runner, session, small_grid, tmp_path):
    import geopandas as gpd
    from shapely.geometry import Point

    path = tmp_path / "households.gpkg"
    for layer, (lon, lat) in {"一区": (116.405, 39.915), "二区": (116.415, 39.905)}.items():
        frame = gpd.GeoDataFrame({"地址": [layer]}, geometry=[Point(lon, lat)], crs=4326)
        pyogrio.write_dataframe(frame, path, layer=layer, driver="GPKG", append=path.exists())
    result = import_households(runner, path)
    assert result.exit_code == 1 and "--layer" in result.output and "二区（1 条）" in result.output
    assert row_counts(session)["household"] == 0
    result = import_households(runner, path, "--layer", "二区")
    assert result.exit_code == 0, result.output
    assert session.scalars(select(Household.address)).all() == ["二区"]


def test_a_problem_in_a_late_chunk_rolls_back_every_chunk(session, small_grid, tmp_path):
    path = tmp_path / "households.csv"
    lines = [f"{i},116.405,39.915,甲{i}号" for i in range(1, 10)]
    lines[7] = "8,2.35,48.85,巴黎"  # row 9 of the sheet, in the 4th chunk of 2 rows
    path.write_text("id,lon,lat,address\n" + "\n".join(lines) + "\n", encoding="utf-8")
    chunks = ingest.table_chunks(path, rows=2)
    assert len(chunks) == 5
    with pytest.raises(ingest.ImportRejected) as caught:
        ingest.import_households(session, chunks, "EPSG:4326")
    session.rollback()
    assert [e["where"] for e in caught.value.errors] == ["row 9"]
    assert row_counts(session)["household"] == 0


def test_chunks_number_rows_and_ids_across_chunks(session, small_grid, tmp_path):
    path = tmp_path / "households.csv"
    rows = [f"116.405,39.915,甲{i}号" for i in range(5)] + ["116.6,39.95,网格外"]
    path.write_text("lon,lat,address\n" + "\n".join(rows) + "\n", encoding="utf-8")
    report = ingest.import_households(session, ingest.table_chunks(path, rows=4), "EPSG:4326")
    assert report.written == 6
    assert "1 household(s) lie outside every micro-grid: row 7 (id 6)" in report.as_text()
    assert session.scalars(select(Household.id).order_by(Household.id)).all() == [1, 2, 3, 4, 5, 6]


def test_excel_households_with_chinese_headers(session, small_grid, tmp_path):
    path = tmp_path / "households.xlsx"
    pd.DataFrame(
        {"经度": ["116.405"], "纬度": ["39.915"], "地址": ["甲1号"], "楼栋": ["1"]}
    ).to_excel(path, sheet_name="住户", index=False)
    report = ingest.import_households(session, ingest.table_chunks(path), "EPSG:4326")
    assert report.written == 1
    assert session.scalars(select(Household.building)).all() == ["1"]


@pytest.mark.parametrize(
    ("name", "level"),
    [
        ("社区", "community"),
        ("社区网格", "community"),
        ("片区", "zone"),
        ("片区网格", "zone"),
        ("东四社区片区网格", "zone"),
        ("微网格", "micro"),
        ("Micro grids", "micro"),
        ("zones", "zone"),
        ("communities", None),
        ("Community", "community"),
        ("图层1", None),
    ],
)
def test_level_of_layer_names(name, level):
    assert level_of(name) == level


@pytest.mark.parametrize(
    ("text", "garbled"),
    [
        ("ÉçÇø", True),  # 社区 in GBK read as Latin-1
        ("ç¤¾åŒº", True),  # 社区 in UTF-8 read as Latin-1
        ("社\ufffd区", True),
        ("社区", False),
        ("Café Noël", False),
        ("1-001", False),
    ],
)
def test_garbled_text_is_refused(text, garbled):
    frame = pd.DataFrame({"name": [text]})
    if garbled:
        with pytest.raises(Exception, match="文字乱码"):
            refuse_garbled(frame, "f")
    else:
        refuse_garbled(frame, "f")


def test_people_and_posts_with_chinese_headers_and_labels(session, small_grid, tmp_path):
    from gridmap.storage.models import Assignment, Person

    people = tmp_path / "people.csv"
    people.write_bytes("编号,姓名,手机号,类别\n7,张三,13800000000,网格员\n".encode("gb18030"))
    ingest.import_people(session, ingest.read_table(people))
    posts = tmp_path / "posts.csv"
    posts.write_text(f"人员编号,网格编码,岗位\n7,{COMMUNITY}01001,网格员\n", encoding="utf-8")
    ingest.import_assignments(session, ingest.read_table(posts))
    person = session.scalars(select(Person)).one()
    assert (person.id, person.name, person.phone, person.kind) == (
        7,
        "张三",
        "13800000000",
        "grid_worker",
    )
    assert session.scalars(select(Assignment.role)).all() == ["grid_worker"]


def test_unknown_encoding_is_refused_before_reading(runner, session, tmp_path):
    path = _gbk_shapefile(tmp_path)
    result = import_grids(runner, path, "--encoding", "GBX")
    assert result.exit_code == 1 and "不认识的编码 'GBX'" in result.output
    assert row_counts(session)["grid"] == 0


def test_an_id_repeated_in_a_later_chunk_is_reported(session, small_grid, tmp_path):
    path = tmp_path / "households.csv"
    rows = ["1,116.405,39.915,甲", "2,116.405,39.915,乙", "1,116.405,39.915,丙"]
    path.write_text("id,lon,lat,address\n" + "\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(ingest.ImportRejected, match="row 4: household 1 already exists"):
        ingest.import_households(session, ingest.table_chunks(path, rows=2), "EPSG:4326")
    session.rollback()
    assert row_counts(session)["household"] == 0
