"""Month partitions: the audit log, the requests' timelines and the patrols' GPS fixes.

``audit_log`` (by ``at``), ``request_event`` (by ``at``) and ``patrol_point`` (by
``patrol_started_at``, a new column: the start of the patrol, so that a patrol's fixes lie in
one partition, are read by naming it, and ``(patrol_id, seq, patrol_started_at)`` is as
unique as ``(patrol_id, seq)`` was, the start following from the patrol by the foreign key;
a phone's fix times are its own) become declaratively partitioned tables, one partition per month of Beijing time (``<table>_pYYYYMM``, from 00:00 on the
first, +08:00) and a DEFAULT partition (``<table>_default``) that takes any row no month
partition holds, so an insert never fails for want of a partition. Their rows are moved
across; indexes, foreign keys, triggers, grants and the id sequence are carried over from the
old table as they stand. A primary key or unique constraint of a partitioned table must hold
the partition key, so ``pk_*`` becomes ``(id, at)`` and ``uq_audit_log_chain_seq``
``(chain_seq, at)``: the ids and chain positions still come from one sequence and the chain
head's lock, and ``gridmap_verify_audit`` still finds a position taken twice.

``gridmap_partition_month(table, month)`` creates one month's partition (moving in the rows
the DEFAULT partition held for it) and ``gridmap_partitions_ahead(months)`` the current month
and the next ``months`` of every partitioned table; the job runner calls it daily, so the
DEFAULT partition stays empty in normal use. Both run as the owner for the application's
role, for these tables only.

The audit log's seal (``gridmap_audit_seal``) sets ``at`` to ``clock_timestamp()`` after the
row was routed by the time it was sent with (the transaction's start by default). PostgreSQL
cannot move a row to another partition in a BEFORE ROW trigger, so when the sealed time
belongs to another partition (a transaction that began before a month's first second, an
insert that named a time of its own) the seal inserts the sealed row into ``audit_log`` again
and drops the first: the nested insert is recognised by its hash, which only the seal of the
level above could have put in ``gridmap.audit_rerouting``.

``gridmap_prune_audit`` drops the month partitions that lie wholly before the retention
cutoff and are a prefix of the chain (their last position and hash become the anchor), then
deletes row by row what remains before the cutoff (in the DEFAULT partition, or the part of a
month inside the window's first month), as before.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-05 22:00:00
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None

#: Partitioned tables and their partition key.
PARTITIONED = {"audit_log": "at", "request_event": "at", "patrol_point": "patrol_started_at"}

#: Months of partitions made ahead of the current one (the job runner keeps it so).
MONTHS_AHEAD = 3

#: How far back the migration makes month partitions for the rows it moves; older rows go to
#: the DEFAULT partition (from where the audit log's prune still removes them).
MONTHS_BACK = 36

#: Functions that take the audit log's row type: dropped with the old table and made again
#: for the new one from their own definitions.
ROW_FUNCTIONS = ("gridmap_audit_canonical", "gridmap_audit_hash")

_TABLE_LIST = ", ".join(f"'{t}'" for t in PARTITIONED)

PARTITION_FUNCTIONS_SQL = f"""
CREATE FUNCTION gridmap_partition_month(parent text, month date) RETURNS regclass
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
-- The partition of ``parent`` for the Beijing month starting on ``month``, made if missing;
-- the rows the DEFAULT partition held for that month are moved into it first.
DECLARE
  first date := date_trunc('month', month)::date;
  part text := format('%s_p%s', parent, to_char(first, 'YYYYMM'));
  low timestamptz := first::timestamp AT TIME ZONE 'Asia/Shanghai';
  high timestamptz := (first + 1 * interval '1 month')::timestamp AT TIME ZONE 'Asia/Shanghai';
  key text;
BEGIN
  IF parent IS NULL OR parent NOT IN ({_TABLE_LIST}) THEN
    RAISE EXCEPTION 'gridmap_partition_month: not for table %', parent
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF to_regclass(part) IS NOT NULL THEN
    RETURN part::regclass;
  END IF;
  SELECT a.attname INTO key
    FROM pg_partitioned_table p
    JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
   WHERE p.partrelid = parent::regclass;
  EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                 part, parent);
  IF to_regclass(parent || '_default') IS NOT NULL THEN
    EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I >= $1 AND %I < $2 RETURNING *)'
                   ' INSERT INTO %I SELECT * FROM moved', parent || '_default', key, key, part)
      USING low, high;
  END IF;
  EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                 parent, part, low, high);
  RETURN part::regclass;
END $$;

CREATE FUNCTION gridmap_partitions_ahead(months integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
-- This month's partition and the next ``months``' of every partitioned table; returns how
-- many were made.
DECLARE
  this_month date := date_trunc('month', now() AT TIME ZONE 'Asia/Shanghai')::date;
  parent text;
  made integer := 0;
BEGIN
  FOREACH parent IN ARRAY ARRAY[{_TABLE_LIST}] LOOP
    FOR i IN 0 .. LEAST(GREATEST(months, 0), 24) LOOP
      IF to_regclass(format('%s_p%s', parent,
                            to_char(this_month + i * interval '1 month', 'YYYYMM'))) IS NULL
      THEN
        PERFORM gridmap_partition_month(parent, (this_month + i * interval '1 month')::date);
        made := made + 1;
      END IF;
    END LOOP;
  END LOOP;
  RETURN made;
END $$;

CREATE FUNCTION gridmap_month_partitions(parent text)
  RETURNS TABLE (part regclass, low timestamptz, high timestamptz)
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
  -- The month partitions of ``parent`` (not the DEFAULT one) and their bounds, oldest first.
  SELECT c.oid::regclass,
         (to_date(right(c.relname, 6), 'YYYYMM')::timestamp AT TIME ZONE 'Asia/Shanghai'),
         ((to_date(right(c.relname, 6), 'YYYYMM') + interval '1 month')::timestamp
           AT TIME ZONE 'Asia/Shanghai')
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
   WHERE i.inhparent = parent::regclass AND c.relname ~ ('^' || parent || '_p[0-9]{{6}}$')
   ORDER BY c.relname
$$;

REVOKE ALL ON FUNCTION gridmap_partition_month(text, date), gridmap_partitions_ahead(integer),
  gridmap_month_partitions(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gridmap_partitions_ahead(integer), gridmap_month_partitions(text)
  TO gridmap_app;
"""

AUDIT_SEAL_SQL = """
CREATE OR REPLACE FUNCTION gridmap_audit_seal() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  head audit_chain_head;
  home regclass;
BEGIN
  IF pg_trigger_depth() > 1 AND NEW.hash IS NOT NULL
     AND NEW.hash = current_setting('gridmap.audit_rerouting', true) THEN
    -- The row this trigger sealed one level up, put where its sealed time belongs.
    PERFORM set_config('gridmap.audit_rerouting', '', true);
    RETURN NEW;
  END IF;
  IF NEW.hash IS NOT NULL AND pg_has_role(session_user,
       (SELECT c.relowner FROM pg_class c WHERE c.oid = 'audit_log'::regclass), 'USAGE') THEN
    -- A sealed row the owner moves to another partition (an UPDATE of its time) is
    -- inserted there again: it keeps its seal. The owner could disable the trigger anyway.
    RETURN NEW;
  END IF;
  IF NEW.user_id IS NOT NULL THEN
    SELECT u.username INTO NEW.username FROM app_user u WHERE u.id = NEW.user_id;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'audit_log: no account has id %', NEW.user_id
        USING ERRCODE = 'foreign_key_violation';
    END IF;
  END IF;
  -- The row lock orders the chain: held until this transaction ends.
  SELECT * INTO head FROM audit_chain_head FOR UPDATE;
  NEW.id := nextval('audit_log_id_seq');
  NEW.at := clock_timestamp();
  NEW.chain_seq := head.seq + 1;
  NEW.prev_hash := head.hash;
  NEW.hash := gridmap_audit_hash(NEW);
  UPDATE audit_chain_head SET seq = NEW.chain_seq, hash = NEW.hash;
  home := coalesce(
    to_regclass('audit_log_p' || to_char(NEW.at AT TIME ZONE 'Asia/Shanghai', 'YYYYMM')),
    'audit_log_default'::regclass);
  IF home <> TG_RELID THEN
    -- Routed by the time it was sent with: PostgreSQL cannot move it from here.
    PERFORM set_config('gridmap.audit_rerouting', NEW.hash, true);
    INSERT INTO audit_log (id, at, user_id, username, action, object_type, object_id, outcome,
                           ip, user_agent, detail, chain_seq, prev_hash, hash)
    VALUES (NEW.id, NEW.at, NEW.user_id, NEW.username, NEW.action, NEW.object_type,
            NEW.object_id, NEW.outcome, NEW.ip, NEW.user_agent, NEW.detail, NEW.chain_seq,
            NEW.prev_hash, NEW.hash);
    RETURN NULL;
  END IF;
  RETURN NEW;
END $$;
"""

AUDIT_SEAL_PLAIN_SQL = """
CREATE OR REPLACE FUNCTION gridmap_audit_seal() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  head audit_chain_head;
BEGIN
  IF NEW.user_id IS NOT NULL THEN
    SELECT u.username INTO NEW.username FROM app_user u WHERE u.id = NEW.user_id;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'audit_log: no account has id %', NEW.user_id
        USING ERRCODE = 'foreign_key_violation';
    END IF;
  END IF;
  -- The row lock orders the chain: held until this transaction ends.
  SELECT * INTO head FROM audit_chain_head FOR UPDATE;
  NEW.id := nextval('audit_log_id_seq');
  NEW.at := clock_timestamp();
  NEW.chain_seq := head.seq + 1;
  NEW.prev_hash := head.hash;
  NEW.hash := gridmap_audit_hash(NEW);
  UPDATE audit_chain_head SET seq = NEW.chain_seq, hash = NEW.hash;
  RETURN NEW;
END $$;
"""

PRUNE_SQL = """
CREATE OR REPLACE FUNCTION gridmap_prune_audit(keep_days integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  cutoff timestamptz := now() - make_interval(days => GREATEST(keep_days, 180));
  keep_from bigint;
  removed bigint := 0;
  n bigint;
  last_seq bigint;
  last_hash text;
  part_seq bigint;
  part_hash text;
  month record;
BEGIN
  PERFORM 1 FROM audit_chain_anchor FOR UPDATE;
  -- Only a prefix of the chain goes, so what is left still starts at the anchor.
  SELECT min(chain_seq) INTO keep_from FROM audit_log WHERE at >= cutoff;
  -- Whole months before the cutoff go with their partition, oldest first.
  FOR month IN SELECT * FROM gridmap_month_partitions('audit_log') WHERE high <= cutoff LOOP
    EXECUTE format('SELECT count(*) FROM %s', month.part) INTO n;
    EXECUTE format('SELECT chain_seq, hash FROM %s ORDER BY chain_seq DESC LIMIT 1', month.part)
      INTO part_seq, part_hash;
    EXIT WHEN keep_from IS NOT NULL AND part_seq >= keep_from;
    EXECUTE format('DROP TABLE %s', month.part);
    removed := removed + n;
    IF part_seq > coalesce(last_seq, -1) THEN
      last_seq := part_seq;
      last_hash := part_hash;
    END IF;
  END LOOP;
  WITH gone AS (
    DELETE FROM audit_log
     WHERE at < cutoff AND (keep_from IS NULL OR chain_seq < keep_from)
    RETURNING chain_seq, hash
  )
  SELECT count(*), max(chain_seq), (array_agg(hash ORDER BY chain_seq DESC))[1]
    INTO n, part_seq, part_hash FROM gone;
  removed := removed + n;
  IF part_seq > coalesce(last_seq, -1) THEN
    last_seq := part_seq;
    last_hash := part_hash;
  END IF;
  IF removed > 0 THEN
    UPDATE audit_chain_anchor SET seq = last_seq, hash = last_hash, pruned_at = now();
  END IF;
  RETURN removed;
END $$;
"""

PRUNE_PLAIN_SQL = """
CREATE OR REPLACE FUNCTION gridmap_prune_audit(keep_days integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  cutoff timestamptz := now() - make_interval(days => GREATEST(keep_days, 180));
  keep_from bigint;
  removed bigint;
  last_seq bigint;
  last_hash text;
BEGIN
  PERFORM 1 FROM audit_chain_anchor FOR UPDATE;
  -- Only a prefix of the chain goes, so what is left still starts at the anchor.
  SELECT min(chain_seq) INTO keep_from FROM audit_log WHERE at >= cutoff;
  WITH gone AS (
    DELETE FROM audit_log
     WHERE at < cutoff AND (keep_from IS NULL OR chain_seq < keep_from)
    RETURNING chain_seq, hash
  )
  SELECT count(*), max(chain_seq), (array_agg(hash ORDER BY chain_seq DESC))[1]
    INTO removed, last_seq, last_hash FROM gone;
  IF removed > 0 THEN
    UPDATE audit_chain_anchor SET seq = last_seq, hash = last_hash, pruned_at = now();
  END IF;
  RETURN removed;
END $$;
"""


def _rows(sql: str, **params: object) -> list[tuple[object, ...]]:
    return [tuple(r) for r in op.get_bind().execute(text(sql), params)]


class _Shape:
    """What a table carries beside its columns, read from the catalogue as it stands."""

    def __init__(self, table: str) -> None:
        self.indexes = [
            str(r[0]).replace(" ON ONLY ", " ON ")
            for r in _rows(
                "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i"
                " WHERE i.indrelid = CAST(:t AS regclass) AND NOT EXISTS"
                " (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
                t=table,
            )
        ]
        self.constraints = _rows(
            "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = CAST(:t AS regclass) AND contype IN ('p', 'u', 'f')"
            " ORDER BY contype DESC, conname",
            t=table,
        )
        self.triggers = [
            str(r[0])
            for r in _rows(
                "SELECT pg_get_triggerdef(oid) FROM pg_trigger"
                " WHERE tgrelid = CAST(:t AS regclass) AND NOT tgisinternal AND tgparentid = 0",
                t=table,
            )
        ]
        self.grants = _rows(
            "SELECT a.privilege_type, coalesce(r.rolname, 'PUBLIC')"
            " FROM pg_class c, aclexplode(c.relacl) a"
            " LEFT JOIN pg_roles r ON r.oid = a.grantee"
            " WHERE c.oid = CAST(:t AS regclass) AND a.grantee <> c.relowner",
            t=table,
        )
        has_id = _rows(
            "SELECT 1 FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) AND attname = 'id'",
            t=table,
        )
        self.sequence = (
            _rows("SELECT pg_get_serial_sequence(:t, 'id')", t=table)[0][0] if has_id else None
        )

    def apply(self, table: str, key_change: tuple[str, str]) -> None:
        old, new = key_change
        for name, kind, definition in self.constraints:
            if kind in ("p", "u"):
                definition = str(definition).replace(old, new)
            op.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for statement in (*self.indexes, *self.triggers):
            op.execute(statement)
        for privilege, grantee in self.grants:
            op.execute(f"GRANT {privilege} ON {table} TO {grantee}")
        if self.sequence:
            op.execute(f"ALTER SEQUENCE {self.sequence} OWNED BY {table}.id")


def _row_functions() -> list[str]:
    return [
        str(r[0])
        for r in _rows(
            "SELECT pg_get_functiondef(p.oid) FROM pg_proc p WHERE p.proname = ANY(:names)"
            " ORDER BY p.proname",
            names=list(ROW_FUNCTIONS),
        )
    ]


def _rebuild(table: str, key: str, *, partitioned: bool) -> None:
    """Make ``table`` anew, partitioned by month on ``key`` or plain, with its rows and all
    it carries."""
    shape = _Shape(table)
    functions = _row_functions() if table == "audit_log" else []
    if functions:
        op.execute(f"DROP FUNCTION {', '.join(f'{f}(audit_log)' for f in ROW_FUNCTIONS)}")
    if shape.sequence:
        op.execute(f"ALTER SEQUENCE {shape.sequence} OWNED BY NONE")
    op.execute(f"ALTER TABLE {table} RENAME TO {table}_old")
    like = "INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS"
    by = f" PARTITION BY RANGE ({key})" if partitioned else ""
    op.execute(f"CREATE TABLE {table} (LIKE {table}_old {like}){by}")
    if partitioned:
        op.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
        op.execute(
            f"""SELECT gridmap_partition_month('{table}', m::date)
                  FROM generate_series(
                    greatest(
                      (SELECT coalesce(date_trunc('month', min({key}) AT TIME ZONE
                                         'Asia/Shanghai'),
                                       date_trunc('month', now() AT TIME ZONE 'Asia/Shanghai'))
                         FROM {table}_old),
                      date_trunc('month', now() AT TIME ZONE 'Asia/Shanghai')
                        - interval '{MONTHS_BACK} months'),
                    date_trunc('month', now() AT TIME ZONE 'Asia/Shanghai')
                      + interval '{MONTHS_AHEAD} months',
                    interval '1 month') AS m"""
        )
    op.execute(f"INSERT INTO {table} SELECT * FROM {table}_old")
    op.execute(f"DROP TABLE {table}_old")
    for definition in functions:
        op.execute(definition)
    shape.apply(table, (")", f", {key})") if partitioned else (f", {key})", ")"))
    op.execute(f"ANALYZE {table}")


def _function_grants() -> None:
    names = ", ".join(f"{f}(audit_log)" for f in ROW_FUNCTIONS)
    op.execute(f"REVOKE ALL ON FUNCTION {names} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {names} TO gridmap_app")


PATROL_START_SQL = """
ALTER TABLE patrol ADD CONSTRAINT uq_patrol_id_started_at UNIQUE (id, started_at);
ALTER TABLE patrol_point ADD COLUMN patrol_started_at timestamptz;
UPDATE patrol_point p SET patrol_started_at = t.started_at FROM patrol t WHERE t.id = p.patrol_id;
ALTER TABLE patrol_point ALTER COLUMN patrol_started_at SET NOT NULL;
ALTER TABLE patrol_point DROP CONSTRAINT fk_patrol_point_patrol_id_patrol;
ALTER TABLE patrol_point ADD CONSTRAINT fk_patrol_point_patrol_id_patrol
  FOREIGN KEY (patrol_id, patrol_started_at) REFERENCES patrol (id, started_at)
  ON UPDATE CASCADE ON DELETE CASCADE;
"""

PATROL_START_DOWN_SQL = """
ALTER TABLE patrol_point DROP CONSTRAINT fk_patrol_point_patrol_id_patrol;
ALTER TABLE patrol_point DROP COLUMN patrol_started_at;
ALTER TABLE patrol_point ADD CONSTRAINT fk_patrol_point_patrol_id_patrol
  FOREIGN KEY (patrol_id) REFERENCES patrol (id) ON DELETE CASCADE;
ALTER TABLE patrol DROP CONSTRAINT uq_patrol_id_started_at;
"""


def upgrade() -> None:
    op.execute(PARTITION_FUNCTIONS_SQL)
    op.execute(PATROL_START_SQL)
    for table, key in PARTITIONED.items():
        _rebuild(table, key, partitioned=True)
    _function_grants()
    op.execute(AUDIT_SEAL_SQL)
    op.execute(PRUNE_SQL)


def downgrade() -> None:
    op.execute(AUDIT_SEAL_PLAIN_SQL)
    op.execute(PRUNE_PLAIN_SQL)
    for table, key in PARTITIONED.items():
        _rebuild(table, key, partitioned=False)
    _function_grants()
    op.execute(PATROL_START_DOWN_SQL)
    op.execute(
        "DROP FUNCTION gridmap_partitions_ahead(integer), gridmap_partition_month(text, date),"
        " gridmap_month_partitions(text)"
    )
