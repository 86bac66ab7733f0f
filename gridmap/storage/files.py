"""Queries of uploaded photos (``stored_file``): insert, read one, attach to what it belongs
to, whether a request has an "after" photo, and the uploads never attached."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from gridmap.access.auth import Scope
from gridmap.storage.models import (
    Grid,
    Household,
    HouseholdVisit,
    PartyMatch,
    PartyNeed,
    PartyPhoto,
    Patrol,
    PatrolCheckIn,
    ResidentRequest,
    SmallWish,
    StoredFile,
)
from gridmap.storage.models.files import UNATTACHED
from gridmap.storage.party import community_managed
from gridmap.storage.patrols import patrol_visible
from gridmap.storage.requests import request_visible
from gridmap.storage.scoping import household_visible


def insert_file(session: Session, values: dict[str, Any]) -> None:
    session.execute(insert(StoredFile).values(**values))


def get_file(session: Session, file_id: str) -> StoredFile | None:
    return session.get(StoredFile, file_id)


def attachable(session: Session, file_ids: list[str], user_id: int) -> dict[str, StoredFile]:
    """The caller's own files among ``file_ids`` (attached or not), by id, locked until the
    transaction ends (the pruning of unattached uploads skips them meanwhile)."""
    stmt = (
        select(StoredFile)
        .where(StoredFile.id.in_(file_ids), StoredFile.uploaded_by == user_id)
        .order_by(StoredFile.id)
        .with_for_update()
    )
    return {f.id: f for f in session.scalars(stmt)}


def attach(session: Session, file_ids: list[str], values: dict[str, Any]) -> None:
    """Set what ``file_ids`` belong to (``request_id``, ``check_in_id`` or ``visit_id``)."""
    session.execute(update(StoredFile).where(StoredFile.id.in_(file_ids)).values(**values))


def after_photos(session: Session, request_id: int) -> int:
    """How many "after" photos (处置后) are attached to the request."""
    stmt = select(func.count()).where(
        StoredFile.request_id == request_id, StoredFile.purpose == "after"
    )
    return int(session.scalar(stmt) or 0)


def count_files(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(StoredFile)) or 0)


def claim_unattached(session: Session, before: dt.datetime, limit: int) -> list[str]:
    """Delete up to ``limit`` uploads attached to nothing (nor a project's or a wish's photos,
    ``party_photo``) and uploaded before ``before``; returns their ids. Rows being attached
    right now are locked and skipped (the caller commits, then removes their bytes)."""
    in_party = select(PartyPhoto.file_id).where(PartyPhoto.file_id == StoredFile.id)
    doomed = (
        select(StoredFile.id)
        .where(text(UNATTACHED), StoredFile.uploaded_at < before, ~in_party.exists())
        .order_by(StoredFile.uploaded_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    stmt = delete(StoredFile).where(StoredFile.id.in_(doomed)).returning(StoredFile.id)
    return list(session.scalars(stmt))


def visible(session: Session, file_id: str, user_id: int, scope: Scope) -> StoredFile | None:
    """A file the caller may see: its own upload not yet attached, a photo of a request in
    ``scope`` (:func:`~gridmap.storage.requests.request_visible`), of a check-in of a
    patrol and household in ``scope``, of a visit to a household in ``scope``, or of a service
    project's result or a 微心愿's proof in a community the scope manages."""
    checked_in = (
        select(PatrolCheckIn.id)
        .join(Patrol, Patrol.id == PatrolCheckIn.patrol_id)
        .join(Household, Household.id == PatrolCheckIn.household_id)
        .where(patrol_visible(scope), household_visible(scope))
    )
    requests = select(ResidentRequest.id).where(request_visible(scope))
    visits = (
        select(HouseholdVisit.id)
        .join(Household, Household.id == HouseholdVisit.household_id)
        .where(household_visible(scope))
    )
    stmt = select(StoredFile).where(
        StoredFile.id == file_id,
        or_(
            and_(
                StoredFile.request_id.is_(None),
                StoredFile.check_in_id.is_(None),
                StoredFile.visit_id.is_(None),
                StoredFile.uploaded_by == user_id,
            ),
            StoredFile.request_id.in_(requests),
            StoredFile.check_in_id.in_(checked_in),
            StoredFile.visit_id.in_(visits),
            StoredFile.id.in_(_party_photos(scope)),
        ),
    )
    return session.scalars(stmt).first()


def _party_photos(scope: Scope) -> Any:
    """Photos of projects and wishes of the communities ``scope`` manages."""
    of_projects = (
        select(PartyPhoto.file_id)
        .join(PartyMatch, PartyMatch.id == PartyPhoto.match_id)
        .join(PartyNeed, PartyNeed.id == PartyMatch.need_id)
        .join(Grid, Grid.id == PartyNeed.community_id)
        .where(community_managed(scope))
    )
    of_wishes = (
        select(PartyPhoto.file_id)
        .join(SmallWish, SmallWish.id == PartyPhoto.wish_id)
        .join(Grid, Grid.id == SmallWish.community_id)
        .where(community_managed(scope))
    )
    return of_projects.union(of_wishes)
