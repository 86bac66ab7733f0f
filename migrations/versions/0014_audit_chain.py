"""The audit log sealed by the database: its time, its user name and a hash chain; the
application's role trimmed to what it uses.

A BEFORE INSERT trigger (``gridmap_audit_seal``, SECURITY DEFINER) overrides whatever the
application sent for ``id``, ``at``, ``chain_seq``, ``prev_hash`` and ``hash``, and for
``username`` when ``user_id`` is set (the name is read from ``app_user``; an anonymous row,
such as a failed login, keeps the name that was tried). It locks the one row of
``audit_chain_head`` first, so audited transactions take their chain positions one at a time
and hold them until they commit or roll back: in READ COMMITTED the lock returns the head as
the previous holder committed it. Under that lock the row gets its id from the sequence, its
time from ``clock_timestamp()`` and the next position; so ids, times and positions all grow
in chain order (``now()``, the transaction's start, would not: a transaction that began
earlier can write its row later), and the prune can remove a prefix of the chain by time.

``hash`` is SHA-256 over ``gridmap_audit_canonical``: a JSON array of the row's position, id,
time (UTC, microseconds), every column and the previous row's hash. Pruning records the
position and hash of the last row it removed in ``audit_chain_anchor``, where
``gridmap_verify_audit()`` starts. Rows written before this migration are chained in id
order as they are.

Privileges of ``gridmap_app``: USAGE only on the sequences it draws ids from (no UPDATE, so
no ``setval``; none at all on the audit log's, which only the trigger uses); the two
``setval`` uses of the imports and the demo generator go through forward-only functions;
SELECT only on the chain's tables; no DELETE on accounts, requests and categories, which the
application never deletes (an account's audit rows keep pointing at it); nothing on
``alembic_version``. It never had TRUNCATE, REFERENCES or TRIGGER, and it owns nothing, so it
can neither disable the trigger nor change the functions.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

GENESIS = "0" * 64

#: Tables whose id sequence the application may move forward (imports with ids of their
#: own, the demo generator's blocks of ids); never the audit log's.
SEQUENCE_TABLES = ("household", "person", "resident_request", "request_event")

#: Tables the application never deletes from.
NO_DELETE = ("app_user", "resident_request", "category")

CHAIN_SQL = f"""
CREATE FUNCTION gridmap_audit_canonical(r audit_log) RETURNS text
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
  SELECT jsonb_build_array(
    r.chain_seq, r.id,
    to_char(r.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    r.user_id, r.username, r.action, r.object_type, r.object_id, r.outcome, r.ip,
    r.user_agent, r.detail, r.prev_hash
  )::text
$$;

CREATE FUNCTION gridmap_audit_hash(r audit_log) RETURNS text
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
  SELECT encode(sha256(convert_to(gridmap_audit_canonical(r), 'UTF8')), 'hex')
$$;

CREATE FUNCTION gridmap_audit_seal() RETURNS trigger
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

CREATE TRIGGER audit_log_seal BEFORE INSERT ON audit_log
  FOR EACH ROW EXECUTE FUNCTION gridmap_audit_seal();

DO $$
DECLARE
  r audit_log;
  pos bigint := 0;
  prev text := '{GENESIS}';
BEGIN
  FOR r IN SELECT * FROM audit_log ORDER BY id LOOP
    pos := pos + 1;
    r.chain_seq := pos;
    r.prev_hash := prev;
    prev := gridmap_audit_hash(r);
    UPDATE audit_log SET chain_seq = pos, prev_hash = r.prev_hash, hash = prev WHERE id = r.id;
  END LOOP;
  INSERT INTO audit_chain_head (one, seq, hash) VALUES (true, pos, prev);
  INSERT INTO audit_chain_anchor (one, seq, hash) VALUES (true, 0, '{GENESIS}');
END $$;

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

CREATE FUNCTION gridmap_verify_audit(
  OUT checked bigint, OUT broken_id bigint, OUT problem text, OUT detail text
) LANGUAGE plpgsql STABLE SET search_path = public, pg_temp AS $$
-- STABLE: every query below reads the one snapshot of the calling statement, so rows
-- written or pruned meanwhile cannot make the anchor, the rows and the head disagree.
DECLARE
  r record;
  expected bigint;
  prev text;
  last_id bigint;
  head audit_chain_head;
BEGIN
  checked := 0;
  SELECT a.seq + 1, a.hash INTO expected, prev FROM audit_chain_anchor a;
  SELECT * INTO head FROM audit_chain_head;
  FOR r IN SELECT a.id, a.chain_seq, a.prev_hash, a.hash, gridmap_audit_hash(a) AS computed
             FROM audit_log a ORDER BY a.chain_seq, a.id LOOP
    IF r.chain_seq IS NULL OR r.hash IS NULL OR r.prev_hash IS NULL THEN
      problem := 'inserted';
      detail := 'it has no place in the chain (no position or hash)';
    ELSIF r.chain_seq < expected THEN
      problem := 'inserted';
      detail := format('its chain position %s was already taken or lies before the anchor',
                       r.chain_seq);
    ELSIF r.chain_seq > expected THEN
      problem := 'missing';
      detail := format('%s row(s) missing before it (chain positions %s to %s)',
                       r.chain_seq - expected, expected, r.chain_seq - 1);
    ELSIF r.prev_hash <> prev THEN
      problem := 'inserted';
      detail := CASE WHEN last_id IS NULL
        THEN 'its previous hash is not the anchor''s'
        ELSE format('its previous hash is not the hash of the row before it (id %s):'
                    ' that row was re-hashed or this one was put in out of chain', last_id)
      END;
    ELSIF r.computed <> r.hash THEN
      problem := 'changed';
      detail := 'its columns no longer match its hash';
    END IF;
    IF problem IS NOT NULL THEN
      broken_id := r.id;
      RETURN;
    END IF;
    checked := checked + 1;
    prev := r.hash;
    expected := r.chain_seq + 1;
    last_id := r.id;
  END LOOP;
  IF head.seq > expected - 1 THEN
    problem := 'missing';
    broken_id := last_id;
    detail := format('%s row(s) missing after it, at the end of the chain (the head is at'
                     ' position %s)', head.seq - expected + 1, head.seq);
  ELSIF head.seq < expected - 1 THEN
    problem := 'inserted';
    broken_id := last_id;
    detail := format('it lies beyond the chain head (position %s)', head.seq);
  ELSIF head.hash <> prev THEN
    problem := 'changed';
    broken_id := last_id;
    detail := 'its hash is not the one the chain head recorded';
  END IF;
END $$;

CREATE FUNCTION gridmap_sync_sequence(table_name text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
-- After rows were written with ids of their own: the sequence moves past the largest id,
-- never back.
DECLARE
  seq text;
  biggest bigint;
  used bigint;
BEGIN
  IF table_name NOT IN ({", ".join(f"'{t}'" for t in SEQUENCE_TABLES)}) THEN
    RAISE EXCEPTION 'gridmap_sync_sequence: not for table %', table_name
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  seq := pg_get_serial_sequence(table_name, 'id');
  EXECUTE format('SELECT max(id) FROM %I', table_name) INTO biggest;
  EXECUTE format('SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END'
                 ' FROM %s', seq) INTO used;
  IF biggest > used THEN
    RETURN setval(seq, biggest);
  END IF;
  RETURN used;
END $$;

CREATE FUNCTION gridmap_reserve_ids(table_name text, n bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
-- The first of n consecutive ids of the table's sequence, taken at once (forward only).
DECLARE
  seq text;
  first bigint;
BEGIN
  IF table_name NOT IN ({", ".join(f"'{t}'" for t in SEQUENCE_TABLES)}) THEN
    RAISE EXCEPTION 'gridmap_reserve_ids: not for table %', table_name
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF n IS NULL OR n < 1 THEN
    RAISE EXCEPTION 'gridmap_reserve_ids: n must be at least 1, not %', n
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  seq := pg_get_serial_sequence(table_name, 'id');
  first := nextval(seq);
  PERFORM setval(seq, first + n - 1);
  RETURN first;
END $$;
"""

GRANTS_SQL = f"""
REVOKE ALL ON FUNCTION gridmap_audit_seal() FROM PUBLIC;
REVOKE ALL ON FUNCTION gridmap_audit_canonical(audit_log), gridmap_audit_hash(audit_log),
  gridmap_verify_audit(), gridmap_sync_sequence(text), gridmap_reserve_ids(text, bigint)
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gridmap_audit_canonical(audit_log), gridmap_audit_hash(audit_log),
  gridmap_verify_audit(), gridmap_sync_sequence(text), gridmap_reserve_ids(text, bigint)
  TO gridmap_app;
REVOKE ALL ON audit_chain_head, audit_chain_anchor FROM PUBLIC;
GRANT SELECT ON audit_chain_head, audit_chain_anchor TO gridmap_app;

REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM gridmap_app;
DO $$
DECLARE
  s regclass;
BEGIN
  FOR s IN SELECT c.oid FROM pg_class c
            WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace
              AND c.relname <> 'audit_log_id_seq' LOOP
    EXECUTE format('GRANT USAGE ON SEQUENCE %s TO gridmap_app', s);
  END LOOP;
END $$;
REVOKE DELETE ON {", ".join(NO_DELETE)} FROM gridmap_app;
REVOKE ALL ON alembic_version FROM gridmap_app;
REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM gridmap_app, PUBLIC;
"""

DOWNGRADE_SQL = f"""
DROP TRIGGER audit_log_seal ON audit_log;
DROP FUNCTION gridmap_audit_seal();
DROP FUNCTION gridmap_verify_audit();
DROP FUNCTION gridmap_sync_sequence(text);
DROP FUNCTION gridmap_reserve_ids(text, bigint);
DROP FUNCTION gridmap_audit_hash(audit_log);
DROP FUNCTION gridmap_audit_canonical(audit_log);
ALTER TABLE audit_log ALTER COLUMN id SET DEFAULT nextval('audit_log_id_seq');
CREATE OR REPLACE FUNCTION gridmap_prune_audit(keep_days integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  removed bigint;
BEGIN
  DELETE FROM audit_log WHERE at < now() - make_interval(days => GREATEST(keep_days, 180));
  GET DIAGNOSTICS removed = ROW_COUNT;
  RETURN removed;
END $$;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO gridmap_app;
GRANT DELETE ON {", ".join(NO_DELETE)} TO gridmap_app;
GRANT SELECT ON alembic_version TO gridmap_app;
"""


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("chain_seq", sa.BigInteger(), nullable=True))
    op.add_column("audit_log", sa.Column("prev_hash", sa.String(length=64), nullable=True))
    op.add_column("audit_log", sa.Column("hash", sa.String(length=64), nullable=True))
    op.create_table(
        "audit_chain_head",
        sa.Column("one", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("one", name=op.f("ck_audit_chain_head_one_row")),
        sa.PrimaryKeyConstraint("one", name=op.f("pk_audit_chain_head")),
    )
    op.create_table(
        "audit_chain_anchor",
        sa.Column("one", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("pruned_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("one", name=op.f("ck_audit_chain_anchor_one_row")),
        sa.PrimaryKeyConstraint("one", name=op.f("pk_audit_chain_anchor")),
    )
    # Only the trigger draws audit ids, after taking its chain position.
    op.execute("ALTER TABLE audit_log ALTER COLUMN id DROP DEFAULT")
    op.execute(CHAIN_SQL)
    for column in ("chain_seq", "prev_hash", "hash"):
        op.alter_column("audit_log", column, nullable=False)
    op.create_unique_constraint(op.f("uq_audit_log_chain_seq"), "audit_log", ["chain_seq"])
    op.execute(GRANTS_SQL)


def downgrade() -> None:
    op.execute(DOWNGRADE_SQL)
    op.drop_constraint(op.f("uq_audit_log_chain_seq"), "audit_log", type_="unique")
    op.drop_table("audit_chain_anchor")
    op.drop_table("audit_chain_head")
    op.drop_column("audit_log", "hash")
    op.drop_column("audit_log", "prev_hash")
    op.drop_column("audit_log", "chain_seq")
