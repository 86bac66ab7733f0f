"""Migration 0019 turns the free-text department of requests into department rows.

A database of its own is migrated to head, taken back to 0018 (the downgrade puts the names
back as text), given a request naming a department in text, and migrated to head again: the
name became a department serving the request's district, the request refers to it."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, text

from tests.storage.conftest import alembic_config

SQUARE = "ST_Multi(ST_MakeEnvelope(116.40, 39.90, 116.41, 39.91, 4490))"
SEED_SQL = f"""
INSERT INTO grid (id, code, name, level, parent_id, geom) VALUES
  (1, '110101001001', '社区', 'community', NULL, {SQUARE}),
  (2, '11010100100101', '片区', 'zone', 1, {SQUARE}),
  (3, '11010100100101001', '微网格', 'micro', 2, {SQUARE});
INSERT INTO category (id, code, name, event_class, default_level)
  VALUES (1, 'ads.billboard', '违规户外广告设施', '宣传广告', 'street');
INSERT INTO resident_request
  (category_id, description, geom, micro_grid_id, level, department, state, source, due_at)
VALUES
  (1, '广告牌', ST_SetSRID(ST_MakePoint(116.405, 39.905), 4490), 3, 'department', ' 城管执法队 ',
   'reported', 'api', now()),
  (1, '广告牌二', ST_SetSRID(ST_MakePoint(116.405, 39.905), 4490), 3, 'department', '城管执法队',
   'reported', 'api', now()),
  (1, '无部门', ST_SetSRID(ST_MakePoint(116.405, 39.905), 4490), 3, 'street', NULL,
   'reported', 'api', now());
"""


def test_free_text_departments_become_rows(migrated_url: str) -> None:
    config = alembic_config(migrated_url)
    command.downgrade(config, "0018")
    engine = create_engine(migrated_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(SEED_SQL))
        command.upgrade(config, "head")
        with engine.connect() as conn:
            departments = conn.execute(
                text("SELECT id, code, name, kind, scope_code FROM department")
            ).all()
            linked = conn.execute(
                text("SELECT description, department_id FROM resident_request ORDER BY id")
            ).all()
    finally:
        engine.dispose()
    assert [(d.code, d.name, d.kind, d.scope_code) for d in departments] == [
        ("dept-1", "城管执法队", "其他", "110101")
    ]
    only = departments[0].id
    assert [tuple(r) for r in linked] == [("广告牌", only), ("广告牌二", only), ("无部门", None)]
