"""API keys of Open311 client applications, and the address keys Open311's
``address_string`` is matched on.

``api_key``: one row per client application (a 12345 hotline connector, a resident app),
issued by the system administrator with a role and scope like a user's (``role``,
``scope_code``, ``person_id``), revoked by setting ``revoked_at``. Only the SHA-256 of the key
is stored (``key_hash``) with its first characters (``key_prefix``) to recognise it. Each key
acts through an account of its own (``user_id``: ``apikey-<id>``, inactive, no role, a
password nobody knows), so its requests' ``created_by`` and its audit rows name it.

``gridmap_address_key(text)``: an address as it is compared: NFKC (full-width digits and
letters become ASCII), lower case, without white space and ASCII punctuation. Two expression
indexes find a household by its whole address and a building by its address up to the
building number (``…12号楼``, ``…3栋``, ``…5幢``).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

ADDRESS_KEY_SQL = r"""
CREATE FUNCTION gridmap_address_key(address text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
  SELECT lower(regexp_replace(normalize(address, NFKC),
                              '[[:space:]!-/:-@\[-`{-~]', '', 'g'))
$$;
CREATE FUNCTION gridmap_building_key(address text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
  SELECT substring(gridmap_address_key(address) from '^(.*?[0-9]+(号楼|栋|幢))')
$$;
CREATE INDEX ix_household_address_key ON household (gridmap_address_key(address));
CREATE INDEX ix_household_building_key ON household (gridmap_building_key(address));
GRANT EXECUTE ON FUNCTION gridmap_address_key(text), gridmap_building_key(text) TO gridmap_app;
"""


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("key_prefix", sa.String(length=12), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("scope_code", sa.String(length=17), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "role IN ('street_admin', 'chief', 'zone_leader', 'grid_worker', 'member', 'auditor')",
            name=op.f("ck_api_key_role_known"),
        ),
        sa.CheckConstraint(
            "scope_code IS NULL"
            " OR scope_code ~ '^([0-9]{6}|[0-9]{9}|[0-9]{12}|[0-9]{14}|[0-9]{17})$'",
            name=op.f("ck_api_key_scope_shape"),
        ),
        sa.CheckConstraint(
            "char_length(name) BETWEEN 1 AND 100", name=op.f("ck_api_key_name_length")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_api_key_user_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_api_key_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_api_key_created_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by"], ["app_user.id"], name=op.f("fk_api_key_revoked_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_key_key_hash")),
        sa.UniqueConstraint("user_id", name=op.f("uq_api_key_user_id")),
    )
    op.execute("GRANT SELECT, INSERT, UPDATE ON api_key TO gridmap_app")
    op.execute("GRANT USAGE ON SEQUENCE api_key_id_seq TO gridmap_app")
    op.execute(ADDRESS_KEY_SQL)


def downgrade() -> None:
    op.execute("DROP INDEX ix_household_building_key")
    op.execute("DROP INDEX ix_household_address_key")
    op.execute("DROP FUNCTION gridmap_building_key(text)")
    op.execute("DROP FUNCTION gridmap_address_key(text)")
    op.drop_table("api_key")
