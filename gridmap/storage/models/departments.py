"""职能部门: departments the street summons (街乡吹哨、部门报到), the departments co-handling a
request (协办), the people a community calls up (社区吹哨) and the extensions a department asks
for (延期)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from gridmap.storage.models.base import Base, in_list

#: The kinds of department (职能部门) a street summons.
DEPARTMENT_KINDS = (
    "城管",
    "住建",
    "市场监管",
    "供热",
    "供水",
    "供电",
    "燃气",
    "水务",
    "公安派出所",
    "其他",
)
#: Where an extension request (延期) stands.
EXTENSION_STATES = ("pending", "approved", "refused", "withdrawn")


class Department(Base):
    """职能部门: a department with the area it serves, a district (6 digits) or a street (9
    digits) code prefix: it may be summoned to the requests filed there."""

    __tablename__ = "department"
    __table_args__ = (
        CheckConstraint("code ~ '^[a-z0-9][a-z0-9._-]{1,39}$'", name="code_shape"),
        CheckConstraint("char_length(name) BETWEEN 1 AND 100", name="name_length"),
        CheckConstraint(in_list("kind", DEPARTMENT_KINDS), name="kind_known"),
        CheckConstraint("scope_code ~ '^([0-9]{6}|[0-9]{9})$'", name="scope_shape"),
        CheckConstraint(
            "wecom_webhook IS NULL OR (wecom_webhook ~ '^https?://[^ ]+$'"
            " AND char_length(wecom_webhook) <= 500)",
            name="wecom_webhook_https",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(10))
    scope_code: Mapped[str] = mapped_column(String(9))
    active: Mapped[bool] = mapped_column(server_default="true")
    #: The department's WeCom group robot (企业微信群机器人): where its messages go.
    wecom_webhook: Mapped[str | None] = mapped_column(Text)


class RequestCohandler(Base):
    """协办: a department the street named to co-handle a request with its lead department."""

    __tablename__ = "request_cohandler"

    request_id: Mapped[int] = mapped_column(ForeignKey("resident_request.id"), primary_key=True)
    department_id: Mapped[int] = mapped_column(
        ForeignKey("department.id"), primary_key=True, index=True
    )
    added_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class RequestHelper(Base):
    """社区吹哨: a grid worker or in-service party member of the community that the community's
    chief called up to help with a request it owns (they comment, never complete)."""

    __tablename__ = "request_helper"

    request_id: Mapped[int] = mapped_column(ForeignKey("resident_request.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), primary_key=True, index=True)
    added_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class RequestExtension(Base):
    """延期: a department's request for more time on a stage, and the street's answer. At most
    one is pending per request (a partial unique index)."""

    __tablename__ = "request_extension"
    __table_args__ = (
        CheckConstraint(in_list("state", EXTENSION_STATES), name="state_known"),
        CheckConstraint("unit IN ('hours', 'days')", name="unit_known"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index(
            "uq_request_extension_pending",
            "request_id",
            unique=True,
            postgresql_where="state = 'pending'",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("resident_request.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    reason: Mapped[str] = mapped_column(Text)
    amount: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(5))
    state: Mapped[str] = mapped_column(String(10), server_default="pending")
    asked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    answer: Mapped[str | None] = mapped_column(Text)
