"""通知: what the sender delivered (or, in the demo, would have) and who opted out."""

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
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gridmap.storage.models.base import Base, in_list

#: How a message reaches its recipient: an SMS, a WeCom group robot, the page's own list.
NOTICE_CHANNELS = ("sms", "wecom", "page")


class NotificationDelivery(Base):
    """One message delivered on one channel: to whom (a masked phone, a robot's name), the text
    and the provider's answer; ``dry_run`` when the demo's sender only recorded it. Written
    in the transaction that marks the message sent."""

    __tablename__ = "notification_delivery"
    __table_args__ = (
        CheckConstraint(in_list("channel", NOTICE_CHANNELS), name="channel_known"),
        UniqueConstraint("outbox_id", "channel", name="uq_notification_delivery_message_channel"),
        Index("ix_notification_delivery_delivered_at", "delivered_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"))
    channel: Mapped[str] = mapped_column(String(8))
    recipient: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    dry_run: Mapped[bool]
    answer: Mapped[dict[str, object]] = mapped_column(JSONB)
    delivered_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class NotificationOptout(Base):
    """A recipient who asked to receive nothing (退订): a phone, an account, a person or a
    department. The page's own list still shows a staff member's messages."""

    __tablename__ = "notification_optout"
    __table_args__ = (
        CheckConstraint(
            "num_nonnulls(phone, user_id, person_id, department_id) = 1", name="one_recipient"
        ),
        UniqueConstraint("phone", name="uq_notification_optout_phone"),
        UniqueConstraint("user_id", name="uq_notification_optout_user_id"),
        UniqueConstraint("person_id", name="uq_notification_optout_person_id"),
        UniqueConstraint("department_id", name="uq_notification_optout_department_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
