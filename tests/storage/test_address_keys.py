"""The address keys: Python's (the bulk import's) and the database's (every other writer's)
agree, and the trigger keeps the columns right whoever writes."""

from __future__ import annotations

import unicodedata

import pandas as pd
from sqlalchemy import select, text, update

from gridmap.storage.address_keys import address_key, address_keys, building_key
from gridmap.storage.models import Household

#: Each code point alone between two letters, and before a building number: every plane with
#: characters assigned (0-3; 14, tags and variation selectors), surrogates left out (planes
#: 4-13 and the private planes 15-16 are unassigned or private: nothing maps them).
_EVERY_CODE_POINT_SQL = """
SELECT i, gridmap_address_key('a' || chr(i) || 'B'),
       gridmap_building_key('x' || chr(i) || '12号楼' || chr(i) || '3栋')
  FROM (SELECT generate_series(1, 262143) UNION ALL SELECT generate_series(917504, 921599))
       AS p(i)
 WHERE i NOT BETWEEN 55296 AND 57343
"""


def test_python_keys_equal_the_database_keys_for_every_assigned_plane(session):
    differ = []
    for i, key, building in session.execute(text(_EVERY_CODE_POINT_SQL)):
        c = chr(i)
        mine = address_key("a" + c + "B"), building_key(address_key("x" + c + "12号楼" + c + "3栋"))
        if mine != (key, building):
            differ.append((hex(i), unicodedata.name(c, "?"), (key, building), mine))
    assert differ == []


def test_a_chunk_keyed_as_one_text_equals_each_address_keyed_alone():
    """The bulk import keys a chunk joined by NUL: no step may reach across the joins, even
    for an address that starts or ends with a combining mark, a space or punctuation."""
    planes = [*range(1, 0xD800), *range(0xE000, 0x40000), *range(0xE0000, 0xE1000)]
    addresses = pd.Series(
        [a for i in planes for a in (chr(i) + "5栋", "甲" + chr(i), chr(i))], dtype=object
    )
    keys, buildings = address_keys(addresses)
    alone = [address_key(a) for a in addresses]
    assert keys == alone
    assert buildings == [building_key(k) for k in alone]
    assert address_keys(pd.Series([], dtype=object)) == ([], [])


def test_python_keys_equal_the_database_keys_for_whole_addresses(session):
    addresses = [
        "东城区１２号楼３单元４０１",
        "东城区 12 号楼",
        "号楼12栋",
        "3号楼12栋",
        "新村5幢-301",
        "x1号x2栋",
        "Ａ座１５栋",
        "和平里\u30007栋（东）",
        "无号楼",
        "",
    ]
    found = session.execute(
        text(
            "SELECT a, gridmap_address_key(a), gridmap_building_key(a)"
            " FROM unnest(CAST(:a AS text[])) AS a"
        ),
        {"a": addresses},
    ).all()
    assert [(a, address_key(a), building_key(address_key(a))) for a in addresses] == [
        tuple(row) for row in found
    ]


def test_the_trigger_sets_the_keys_on_insert_and_on_every_change(session, small_grid):
    household = Household(geom="SRID=4490;POINT(116.405 39.915)", address="东城区１２号楼 3单元")
    session.add(household)
    session.flush()
    keys = select(Household.address_key, Household.building_key).where(Household.id == household.id)
    assert session.execute(keys).one() == ("东城区12号楼3单元", "东城区12号楼")
    session.execute(update(Household).where(Household.id == household.id).values(address="新村5幢"))
    assert session.execute(keys).one() == ("新村5幢", "新村5幢")
    wrong = {"address_key": "别处", "building_key": "别处1栋"}
    session.execute(update(Household).where(Household.id == household.id).values(**wrong))
    assert session.execute(keys).one() == ("新村5幢", "新村5幢")
