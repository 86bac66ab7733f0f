"""The residents' public channel (公众上报): one-time phone codes and image captchas.

Only hashes are kept: a code's is keyed by the draft token the client holds (so a copy of the
table gives no code away), a captcha's answer's is plain SHA-256 (it expires in minutes).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gridmap.storage.models.base import Base, in_list

#: What a code is for: filing a request, or listing the phone's requests (我的诉求).
CODE_PURPOSES = ("file", "lookup")


class PublicCode(Base):
    """A one-time code sent by SMS to a resident's phone (验证码)."""

    __tablename__ = "public_code"
    __table_args__ = (
        CheckConstraint("phone ~ '^1[3-9][0-9]{9}$'", name="phone_shape"),
        CheckConstraint(in_list("purpose", CODE_PURPOSES), name="purpose_known"),
        CheckConstraint("attempts >= 0", name="attempts_counted"),
        Index("ix_public_code_phone_created_at", "phone", "created_at"),
        Index("ix_public_code_client_created_at", "client", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    phone: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(String(8))
    #: SHA-256 of the draft token (the client's proof that it asked for this code).
    draft_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: SHA-256 of "draft token:code".
    code_hash: Mapped[str] = mapped_column(String(64))
    #: The client's address, for the per-address limits.
    client: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    #: Wrong guesses so far.
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: The request filed with it.
    request_id: Mapped[int | None] = mapped_column(ForeignKey("resident_request.id"))


class PublicCaptcha(Base):
    """An image captcha shown after repeated use (图形验证码): its answer, hashed."""

    __tablename__ = "public_captcha"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    answer_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
