"""The residents' public channel (公众上报): phone codes, captchas, tracking numbers.

``public_code``: a one-time code sent by SMS to a resident's phone, for filing a request
(``file``) or listing one's requests (``lookup``). The client holds the draft token the code
was asked with; the row keeps only hashes (the code's is keyed by the draft token, so a copy of
the table gives neither away), when it expires, how many wrong guesses it took and when it was
used. Photos uploaded for a pending filing name its code (``stored_file.public_code_id``).

``public_captcha``: an image captcha's answer (hashed), shown after repeated use.

``category.open_to_public``: whether residents may choose the category (every one may, until
the system administrator says otherwise).

The application may DELETE codes, captchas and photos: ``flask gridmap prune`` forgets the
filings never made (unused codes a day after they expired, with their photos), nothing else.

``resident_request.tracking_number`` (查询码): what a resident reads out or types to follow a
request filed through the channel; ``source`` gains ``public``. ``outbox`` gains the kind
``verify_code``. ``app_user`` ``public``: the account such requests and photos are filed by
(inactive, no role: nobody logs in as it).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 00:00:00
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op
from argon2 import PasswordHasher

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

SOURCES_BEFORE = ("api", "page", "open311")
SOURCES_AFTER = (*SOURCES_BEFORE, "public")
KINDS_BEFORE = (
    "due_soon",
    "overdue",
    "assigned",
    "returned",
    "summoned",
    "accepted",
    "completed",
    "please_rate",
)
KINDS_AFTER = (*KINDS_BEFORE, "verify_code")
PURPOSES = ("file", "lookup")
#: Crockford-like: no 0/O, 1/I/L to misread.
TRACKING_SHAPE = "^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{12}$"

GRANTS_SQL = """
GRANT SELECT, INSERT, UPDATE, DELETE ON public_code, public_captcha TO gridmap_app;
GRANT DELETE ON stored_file TO gridmap_app;
GRANT USAGE ON SEQUENCE public_code_id_seq TO gridmap_app;
"""


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _at(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "public_code",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("purpose", sa.String(length=8), nullable=False),
        sa.Column("draft_hash", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        _at("created_at"),
        _at("expires_at"),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        _at("used_at", nullable=True),
        sa.Column("request_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("phone ~ '^1[3-9][0-9]{9}$'", name=op.f("ck_public_code_phone_shape")),
        sa.CheckConstraint(_in("purpose", PURPOSES), name=op.f("ck_public_code_purpose_known")),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_public_code_attempts_counted")),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["resident_request.id"],
            name=op.f("fk_public_code_request_id_resident_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_public_code")),
        sa.UniqueConstraint("draft_hash", name=op.f("uq_public_code_draft_hash")),
    )
    op.create_index("ix_public_code_phone_created_at", "public_code", ["phone", "created_at"])
    op.create_index("ix_public_code_client_created_at", "public_code", ["client", "created_at"])
    op.create_table(
        "public_captcha",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("answer_hash", sa.String(length=64), nullable=False),
        _at("created_at"),
        _at("expires_at"),
        _at("used_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_public_captcha")),
    )
    op.add_column(
        "category",
        sa.Column("open_to_public", sa.Boolean(), server_default=sa.text("true"), nullable=False),
    )
    op.add_column("stored_file", sa.Column("public_code_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_stored_file_public_code_id_public_code"),
        "stored_file",
        "public_code",
        ["public_code_id"],
        ["id"],
    )
    op.create_index(op.f("ix_stored_file_public_code_id"), "stored_file", ["public_code_id"])
    op.add_column(
        "resident_request", sa.Column("tracking_number", sa.String(length=12), nullable=True)
    )
    op.create_unique_constraint(
        op.f("uq_resident_request_tracking_number"), "resident_request", ["tracking_number"]
    )
    op.create_check_constraint(
        "tracking_number_shape",
        "resident_request",
        f"tracking_number IS NULL OR tracking_number ~ '{TRACKING_SHAPE}'",
    )
    op.drop_constraint(op.f("ck_resident_request_source_known"), "resident_request", "check")
    op.create_check_constraint("source_known", "resident_request", _in("source", SOURCES_AFTER))
    op.drop_constraint(op.f("ck_outbox_kind_known"), "outbox", type_="check")
    op.create_check_constraint("kind_known", "outbox", _in("kind", KINDS_AFTER))
    op.execute(GRANTS_SQL)
    # Nobody logs in as it: inactive, no role, a random password's hash that nobody keeps.
    op.execute(
        sa.text(
            "INSERT INTO app_user (username, password_hash, active) VALUES ('public', :hash, false)"
            " ON CONFLICT (username) DO NOTHING"
        ).bindparams(hash=PasswordHasher().hash(secrets.token_urlsafe(32)))
    )


def downgrade() -> None:
    op.execute("REVOKE DELETE ON stored_file FROM gridmap_app")
    op.execute("DELETE FROM outbox WHERE kind = 'verify_code'")
    op.drop_constraint(op.f("ck_outbox_kind_known"), "outbox", type_="check")
    op.create_check_constraint("kind_known", "outbox", _in("kind", KINDS_BEFORE))
    op.drop_constraint(op.f("ck_resident_request_source_known"), "resident_request", "check")
    op.execute("UPDATE resident_request SET source = 'page' WHERE source = 'public'")
    op.create_check_constraint("source_known", "resident_request", _in("source", SOURCES_BEFORE))
    op.drop_constraint(
        op.f("ck_resident_request_tracking_number_shape"), "resident_request", "check"
    )
    op.drop_constraint(
        op.f("uq_resident_request_tracking_number"), "resident_request", type_="unique"
    )
    op.drop_column("resident_request", "tracking_number")
    op.drop_index(op.f("ix_stored_file_public_code_id"), table_name="stored_file")
    op.drop_column("stored_file", "public_code_id")
    op.drop_column("category", "open_to_public")
    op.drop_table("public_captcha")
    op.drop_table("public_code")
