"""Queries of uploaded photos (``stored_file``): insert, read one, attach to what it belongs
to, and whether a request has an "after" photo."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from gridmap.access.auth import Scope
from gridmap.storage.models import (
    Grid,
    Household,
    PartyMatch,
    PartyNeed,
    PartyPhoto,
    Patrol,
    PatrolCheckIn,
    ResidentRequest,
    SmallWish,
    StoredFile,
)
from gridmap.storage.party import community_managed
from gridmap.storage.patrols import patrol_visible
from gridmap.storage.requests import request_visible
from gridmap.storage.scoping import household_visible


def insert_file(session: Session, values: dict[str, Any]) -> None:
    session.execute(insert(StoredFile).values(**values))


def get_file(session: Session, file_id: str) -> StoredFile | None:
    return session.get(StoredFile, file_id)


def attachable(session: Session, file_ids: list[str], user_id: int) -> dict[str, StoredFile]:
    """The caller's own files among ``file_ids`` (attached or not), by id."""
    stmt = select(StoredFile).where(StoredFile.id.in_(file_ids), StoredFile.uploaded_by == user_id)
    return {f.id: f for f in session.scalars(stmt)}


def attach(session: Session, file_ids: list[str], values: dict[str, Any]) -> None:
    """Set what ``file_ids`` belong to (``request_id`` or ``check_in_id``)."""
    session.execute(update(StoredFile).where(StoredFile.id.in_(file_ids)).values(**values))


def after_photos(session: Session, request_id: int) -> int:
    """How many "after" photos (处置后) are attached to the request."""
    stmt = select(func.count()).where(
        StoredFile.request_id == request_id, StoredFile.purpose == "after"
    )
    return int(session.scalar(stmt) or 0)


def count_files(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(StoredFile)) or 0)


def visible(session: Session, file_id: str, user_id: int, scope: Scope) -> StoredFile | None:
    """A file the caller may see: its own upload not yet attached, a photo of a request in
    ``scope`` (:func:`~gridmap.storage.requests.request_visible`), of a check-in of a
    patrol and household in ``scope``, or of a service project's result or a 微心愿's proof
    in a community the scope manages."""
    checked_in = (
        select(PatrolCheckIn.id)
        .join(Patrol, Patrol.id == PatrolCheckIn.patrol_id)
        .join(Household, Household.id == PatrolCheckIn.household_id)
        .where(patrol_visible(scope), household_visible(scope))
    )
    requests = select(ResidentRequest.id).where(request_visible(scope))
    stmt = select(StoredFile).where(
        StoredFile.id == file_id,
        or_(
            and_(
                StoredFile.request_id.is_(None),
                StoredFile.check_in_id.is_(None),
                StoredFile.uploaded_by == user_id,
            ),
            StoredFile.request_id.in_(requests),
            StoredFile.check_in_id.in_(checked_in),
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
