"""Household address keys stored in columns, so a bulk import computes them in bulk.

``household.address_key`` and ``household.building_key`` hold ``gridmap_address_key(address)``
and ``gridmap_building_key(address)`` (migration 0015), and the two indexes Open311's
``address_string`` is matched on are on these columns instead of on the expressions: an
expression index evaluates its SQL functions (NFKC normalisation and regular expressions) for
every row written, which was the larger part of a bulk import's time on the server (two index
builds of 6 and 10 s per million rows at load). The columns are ``COLLATE "C"``: they are only
compared for equality, and a C-collated B-tree is built by ``memcmp`` with abbreviated keys.

- The trigger ``household_address_keys`` sets both on every insert and on every update that
  names ``address`` or a key: every writer gets them, none can set them wrong.
- The bulk import (``gridmap.grid.ingest.bulk``) computes them in Python for whole chunks
  (``gridmap.storage.address_keys``, tested to agree code point by code point) and copies them
  with the rows; ``gridmap_household_bulk_begin`` therefore disables this trigger beside
  ``household_micro_grid``, and ``gridmap_household_bulk_end`` enables both again (the
  functions otherwise as migration 0028 made them).

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-05 22:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None

KEYS_SQL = r"""
ALTER TABLE household ADD COLUMN address_key text COLLATE "C",
                      ADD COLUMN building_key text COLLATE "C";
UPDATE household SET address_key = gridmap_address_key(address);
UPDATE household SET building_key = substring(address_key from '^(.*?[0-9]+(号楼|栋|幢))');
ALTER TABLE household ALTER COLUMN address_key SET NOT NULL;
DROP INDEX ix_household_address_key;
DROP INDEX ix_household_building_key;
CREATE INDEX ix_household_address_key ON household (address_key);
CREATE INDEX ix_household_building_key ON household (building_key);

CREATE FUNCTION gridmap_household_address_keys() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.address_key := gridmap_address_key(NEW.address);
  -- gridmap_building_key(address), without computing the address key twice.
  NEW.building_key := substring(NEW.address_key from '^(.*?[0-9]+(号楼|栋|幢))');
  RETURN NEW;
END $$;
CREATE TRIGGER household_address_keys
  BEFORE INSERT OR UPDATE OF address, address_key, building_key ON household
  FOR EACH ROW EXECUTE FUNCTION gridmap_household_address_keys();
"""

#: Migration 0028's functions, also switching the address keys' trigger.
BULK_SQL = """
CREATE OR REPLACE FUNCTION gridmap_household_bulk_begin(staged bigint) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  present real;
  rebuild boolean;
  parked record;
BEGIN
  SELECT greatest(reltuples, 0) INTO present FROM pg_class
   WHERE oid = 'public.household'::regclass;
  rebuild := staged * 4 >= present;
  LOCK TABLE public.household IN SHARE ROW EXCLUSIVE MODE;
  ALTER TABLE public.household DISABLE TRIGGER household_micro_grid;
  ALTER TABLE public.household DISABLE TRIGGER household_address_keys;  -- 0036
  -- Fails when it exists: a second begin in one transaction, or a table of the caller's.
  CREATE TEMPORARY TABLE household_bulk_parked (
    kind text NOT NULL, name text NOT NULL, definition text NOT NULL
  ) ON COMMIT DROP;
  IF NOT rebuild THEN
    RETURN false;
  END IF;
  INSERT INTO pg_temp.household_bulk_parked
  SELECT 'index', i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
    FROM pg_index i
   WHERE i.indrelid = 'public.household'::regclass
     AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
  UNION ALL
  SELECT 'foreign key', c.conname, pg_get_constraintdef(c.oid)
    FROM pg_constraint c
   WHERE c.conrelid = 'public.household'::regclass AND c.contype = 'f';
  FOR parked IN SELECT * FROM pg_temp.household_bulk_parked LOOP
    IF parked.kind = 'index' THEN
      EXECUTE format('DROP INDEX %s', parked.name);
    ELSE
      EXECUTE format('ALTER TABLE public.household DROP CONSTRAINT %I', parked.name);
    END IF;
  END LOOP;
  RETURN true;
END $$;

CREATE OR REPLACE FUNCTION gridmap_household_bulk_end() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  parked record;
BEGIN
  FOR parked IN SELECT * FROM pg_temp.household_bulk_parked ORDER BY kind DESC, name LOOP
    IF parked.kind = 'index' THEN
      EXECUTE parked.definition;
    ELSE
      EXECUTE format('ALTER TABLE public.household ADD CONSTRAINT %I %s',
                     parked.name, parked.definition);
    END IF;
  END LOOP;
  DROP TABLE pg_temp.household_bulk_parked;
  ALTER TABLE public.household ENABLE TRIGGER household_micro_grid;
  ALTER TABLE public.household ENABLE TRIGGER household_address_keys;  -- 0036
END $$;
"""

DOWN_SQL = """
DROP TRIGGER household_address_keys ON household;
DROP FUNCTION gridmap_household_address_keys();
DROP INDEX ix_household_address_key;
DROP INDEX ix_household_building_key;
ALTER TABLE household DROP COLUMN address_key, DROP COLUMN building_key;
CREATE INDEX ix_household_address_key ON household (gridmap_address_key(address));
CREATE INDEX ix_household_building_key ON household (gridmap_building_key(address));
"""


def upgrade() -> None:
    op.execute(KEYS_SQL)
    op.execute(BULK_SQL)


def downgrade() -> None:
    op.execute(DOWN_SQL)
    op.execute("\n".join(line for line in BULK_SQL.splitlines() if not line.endswith("-- 0036")))
