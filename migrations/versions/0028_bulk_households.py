"""Bulk household imports: the move from a staging table without per-row work.

A bulk import (``gridmap.grid.ingest.households``, ``bulk=True``) copies checked and located
households into a temporary table, then moves them into ``household`` in one statement between
two calls made here, both in the importing transaction (a savepoint around the three undoes
them together):

- ``gridmap_household_bulk_begin(staged)`` locks ``household`` against other writers and
  disables the ``household_micro_grid`` trigger: every moved row's micro-grid was decided by
  the import's bulk locate, which follows the trigger's rule (tested to agree). When the rows
  to move are at least a quarter of those present (``reltuples``), it also drops the
  secondary indexes and the foreign keys, keeping their definitions in a temporary table the
  application's role cannot write (the primary key stays: other tables' foreign keys need it,
  and it finds the duplicate ids). Returns whether it did.
- ``gridmap_household_bulk_end()`` builds the dropped indexes again from their definitions,
  adds the foreign keys back (each validated once over the table, in one query) and enables
  the trigger.

Both are ``SECURITY DEFINER``: the application's role may not alter the table itself.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-05 03:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

FUNCTIONS_SQL = """
CREATE FUNCTION gridmap_household_bulk_begin(staged bigint) RETURNS boolean
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

CREATE FUNCTION gridmap_household_bulk_end() RETURNS void
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
END $$;

REVOKE ALL ON FUNCTION gridmap_household_bulk_begin(bigint), gridmap_household_bulk_end()
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gridmap_household_bulk_begin(bigint), gridmap_household_bulk_end()
  TO gridmap_app;
"""


def upgrade() -> None:
    op.execute(FUNCTIONS_SQL)


def downgrade() -> None:
    op.execute("DROP FUNCTION gridmap_household_bulk_end()")
    op.execute("DROP FUNCTION gridmap_household_bulk_begin(bigint)")
