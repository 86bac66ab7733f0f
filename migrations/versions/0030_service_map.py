"""The service map (15分钟便民服务圈): service sites, the walking network and the cached walking
circles, reach of every household and candidate sites.

The network is routed by pgRouting (``pgr_drivingDistance``, ``pgr_connectedComponents``);
the extension is created by the set-up as the superuser, like PostGIS (not trusted), and here
only if missing. ``walk_node`` and ``walk_edge`` are the topology (nodes where streets end or
share a vertex) that ``gridmap.services.network`` builds; ``service_isochrone``,
``service_reach``, ``service_candidate`` and ``service_map_state`` are results that
``gridmap.services.circles.refresh`` rewrites whenever sites or the network change.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-05 03:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

_CHINA = "ST_MakeEnvelope(73.0, 3.0, 136.0, 54.0, 4490)"


def _geometry_checks(table: str) -> str:
    return f"""
  CONSTRAINT ck_{table}_geom_valid CHECK (ST_IsValid(geom)),
  CONSTRAINT ck_{table}_geom_not_empty CHECK (NOT ST_IsEmpty(geom)),
  CONSTRAINT ck_{table}_geom_in_china CHECK (ST_CoveredBy(geom, {_CHINA})),"""


UPGRADE_SQL = f"""
CREATE EXTENSION IF NOT EXISTS pgrouting;

CREATE TABLE service_site (
  id serial NOT NULL,
  code varchar(40) NOT NULL,
  name text NOT NULL,
  kind varchar(20) NOT NULL,
  address text,
  opening_hours text,
  services text[] DEFAULT '{{}}' NOT NULL,
  geom geometry(POINT, 4490) NOT NULL,
  updated_at timestamptz DEFAULT now() NOT NULL,{_geometry_checks("service_site")}
  CONSTRAINT ck_service_site_code_shape CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9._-]{{0,39}}$'),
  CONSTRAINT ck_service_site_name_length CHECK (char_length(name) BETWEEN 1 AND 100),
  CONSTRAINT ck_service_site_kind_known CHECK (kind IN ('centre_street', 'centre_community',
    'station', 'canteen', 'clinic', 'day_care', 'convenience')),
  CONSTRAINT ck_service_site_hours_length
    CHECK (opening_hours IS NULL OR char_length(opening_hours) <= 200),
  CONSTRAINT ck_service_site_services_count CHECK (cardinality(services) <= 30),
  CONSTRAINT pk_service_site PRIMARY KEY (id),
  CONSTRAINT uq_service_site_code UNIQUE (code)
);
CREATE INDEX ix_service_site_geom ON service_site USING gist (geom);

CREATE TABLE walk_node (
  id bigserial NOT NULL,
  component bigint,
  geom geometry(POINT, 4490) NOT NULL,
  CONSTRAINT pk_walk_node PRIMARY KEY (id)
);
CREATE INDEX ix_walk_node_geom ON walk_node USING gist (geom);

CREATE TABLE walk_edge (
  id bigserial NOT NULL,
  source bigint NOT NULL,
  target bigint NOT NULL,
  length_m double precision NOT NULL,
  name text,
  origin varchar(10) NOT NULL,
  geom geometry(LINESTRING, 4490) NOT NULL,{_geometry_checks("walk_edge")}
  CONSTRAINT ck_walk_edge_origin_known CHECK (origin IN ('osm', 'file', 'synthetic')),
  CONSTRAINT ck_walk_edge_length_positive CHECK (length_m >= 0),
  CONSTRAINT pk_walk_edge PRIMARY KEY (id),
  CONSTRAINT fk_walk_edge_source_walk_node FOREIGN KEY (source) REFERENCES walk_node (id),
  CONSTRAINT fk_walk_edge_target_walk_node FOREIGN KEY (target) REFERENCES walk_node (id)
);
CREATE INDEX ix_walk_edge_geom ON walk_edge USING gist (geom);
CREATE INDEX ix_walk_edge_source ON walk_edge (source);
CREATE INDEX ix_walk_edge_target ON walk_edge (target);

CREATE TABLE service_isochrone (
  site_id integer NOT NULL,
  minutes smallint NOT NULL,
  geom geometry(MULTIPOLYGON, 4490) NOT NULL,
  CONSTRAINT pk_service_isochrone PRIMARY KEY (site_id, minutes),
  CONSTRAINT fk_service_isochrone_site_id_service_site FOREIGN KEY (site_id)
    REFERENCES service_site (id) ON DELETE CASCADE
);

CREATE TABLE service_reach (
  household_id bigint NOT NULL,
  walk_m double precision,
  site_id integer,
  CONSTRAINT pk_service_reach PRIMARY KEY (household_id),
  CONSTRAINT fk_service_reach_household_id_household FOREIGN KEY (household_id)
    REFERENCES household (id) ON DELETE CASCADE,
  CONSTRAINT fk_service_reach_site_id_service_site FOREIGN KEY (site_id)
    REFERENCES service_site (id) ON DELETE SET NULL
);

CREATE TABLE service_candidate (
  rank smallint NOT NULL,
  node_id bigint NOT NULL,
  households integer NOT NULL,
  geom geometry(POINT, 4490) NOT NULL,
  CONSTRAINT pk_service_candidate PRIMARY KEY (rank)
);

CREATE TABLE service_map_state (
  id smallint NOT NULL,
  refreshed_at timestamptz,
  stale boolean DEFAULT true NOT NULL,
  speed_mps double precision,
  nodes integer DEFAULT 0 NOT NULL,
  edges integer DEFAULT 0 NOT NULL,
  components integer DEFAULT 0 NOT NULL,
  detached_nodes integer DEFAULT 0 NOT NULL,
  CONSTRAINT ck_service_map_state_one_row CHECK (id = 1),
  CONSTRAINT pk_service_map_state PRIMARY KEY (id)
);
INSERT INTO service_map_state (id) VALUES (1);

GRANT SELECT, INSERT, UPDATE, DELETE ON service_site, walk_node, walk_edge, service_isochrone,
  service_reach, service_candidate TO gridmap_app;
GRANT SELECT, UPDATE ON service_map_state TO gridmap_app;
GRANT USAGE ON SEQUENCE service_site_id_seq, walk_node_id_seq, walk_edge_id_seq
  TO gridmap_app;
"""

DOWNGRADE_SQL = """
DROP TABLE service_map_state, service_candidate, service_reach, service_isochrone, walk_edge,
  walk_node, service_site;
"""


def upgrade() -> None:
    op.execute(UPGRADE_SQL)


def downgrade() -> None:
    # The extension stays: the set-up created it, as it does PostGIS.
    op.execute(DOWNGRADE_SQL)
