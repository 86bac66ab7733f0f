"""Reading a walking network: an OpenStreetMap extract through osmium (walkable ways only,
ways cut at the nodes they share, a bridge over a road not joined to it) and a road layer."""

from __future__ import annotations

import subprocess
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import LineString, MultiLineString, Point
from sqlalchemy.orm import Session

from gridmap.core.errors import InvalidInput
from gridmap.services import network

# A crossing of two streets at node 3, a motorway and a footway closed to walkers, and a
# bridge (ways 5) over street 1 between nodes 1 and 2 without a shared node.
OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="test">
  <node id="1" lat="39.9000" lon="116.4000"/>
  <node id="2" lat="39.9000" lon="116.4020"/>
  <node id="3" lat="39.9000" lon="116.4010"/>
  <node id="4" lat="39.8990" lon="116.4010"/>
  <node id="5" lat="39.9010" lon="116.4010"/>
  <node id="6" lat="39.8990" lon="116.4005"/>
  <node id="7" lat="39.9010" lon="116.4005"/>
  <node id="8" lat="39.8980" lon="116.4030"/>
  <node id="9" lat="39.8980" lon="116.4040"/>
  <way id="1"><nd ref="1"/><nd ref="3"/><nd ref="2"/><tag k="highway" v="residential"/>
    <tag k="name" v="东四十条"/></way>
  <way id="2"><nd ref="4"/><nd ref="3"/><nd ref="5"/><tag k="highway" v="footway"/></way>
  <way id="3"><nd ref="8"/><nd ref="9"/><tag k="highway" v="motorway"/></way>
  <way id="4"><nd ref="9"/><nd ref="2"/><tag k="highway" v="path"/><tag k="foot" v="no"/></way>
  <way id="5"><nd ref="6"/><nd ref="7"/><tag k="highway" v="footway"/>
    <tag k="bridge" v="yes"/><tag k="layer" v="1"/></way>
</osm>
"""


def _pbf(folder: Path) -> Path:
    xml, pbf = folder / "area.osm", folder / "area.osm.pbf"
    xml.write_text(OSM, encoding="utf-8")
    subprocess.run(["osmium", "cat", str(xml), "-o", str(pbf)], check=True)
    return pbf


def test_osm_ways_people_walk_are_read_and_cut_at_shared_nodes(
    session: Session, tmp_path: Path
) -> None:
    lines = network.osm_lines(_pbf(tmp_path))
    assert sorted(name or "" for name, _ in lines) == ["", "", "东四十条"]
    check = network.import_network(session, lines, "osm")
    # Streets 1 and 2 meet at node 3: four edges, five nodes; the bridge stays apart.
    assert (check.edges, check.nodes, check.components) == (5, 7, 2)
    assert check.detached_pieces == (2,)


def test_a_road_layer_is_read_with_its_names(session: Session) -> None:
    frame = gpd.GeoDataFrame(
        {"路名": ["甲街", "乙街"]},
        geometry=[
            LineString([(116.40, 39.90), (116.41, 39.90)]),
            MultiLineString(
                [[(116.405, 39.895), (116.405, 39.90)], [(116.405, 39.90), (116.405, 39.905)]]
            ),
        ],
        crs=4490,
    )
    lines = network.frame_lines(frame, "EPSG:4490")
    assert [name for name, _ in lines] == ["甲街", "乙街", "乙街"]
    assert shapely.from_wkb(lines[0][1]).equals(LineString([(116.40, 39.90), (116.41, 39.90)]))
    check = network.import_network(session, lines, "file")
    # 甲街 has no vertex where 乙街's two parts end on it: the T-junction is joined there,
    # 2 + 2 edges, one piece.
    assert (check.edges, check.components) == (4, 1)


def test_a_road_crossing_another_without_a_vertex_is_not_joined(session: Session) -> None:
    frame = gpd.GeoDataFrame(
        geometry=[
            LineString([(116.40, 39.90), (116.41, 39.90)]),
            LineString([(116.405, 39.895), (116.405, 39.905)]),
        ],
        crs=4490,
    )
    check = network.import_network(session, network.frame_lines(frame, "EPSG:4490"), "file")
    assert (check.edges, check.components) == (2, 2)


def test_a_layer_of_points_is_refused(session: Session) -> None:
    frame = gpd.GeoDataFrame(geometry=[Point(116.4, 39.9)], crs=4490)
    with pytest.raises(InvalidInput, match="线"):
        network.frame_lines(frame, "EPSG:4490")
    with pytest.raises(InvalidInput):
        network.import_network(session, [], "file")
