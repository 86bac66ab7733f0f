"""Queries of the department aggregate (职能部门): departments, the area each serves, the
departments co-handling a request (协办) and the extensions asked for (延期)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from gridmap.storage.models import (
    Assignment,
    Department,
    Grid,
    Person,
    RequestCohandler,
    RequestExtension,
    RequestHelper,
)

#: A department as the API shows it: id, code, name, kind, scope_code, active.
DepartmentRow = Row[int, str, str, str, str, bool]


def _columns() -> tuple[Any, ...]:
    return (
        Department.id,
        Department.code,
        Department.name,
        Department.kind,
        Department.scope_code,
        Department.active,
    )


def list_departments(session: Session, serving: str | None = None) -> list[DepartmentRow]:
    """Departments by code; with ``serving`` (a grid code), only the active ones serving it."""
    stmt = select(*_columns()).order_by(Department.code)
    if serving:
        stmt = stmt.where(Department.active.is_(True), _serves(serving))
    return list(session.execute(stmt).all())


def _serves(grid_code: str) -> Any:
    return func.strpos(grid_code, Department.scope_code) == 1


def get_department(session: Session, department_id: int) -> DepartmentRow | None:
    return session.execute(select(*_columns()).where(Department.id == department_id)).first()


def serving(session: Session, department_id: int, grid_code: str) -> DepartmentRow | None:
    """The department if it is active and serves the place of ``grid_code``, else None."""
    stmt = select(*_columns()).where(
        Department.id == department_id, Department.active.is_(True), _serves(grid_code)
    )
    return session.execute(stmt).first()


def add_department(session: Session, values: dict[str, Any]) -> int | None:
    """Insert a department unless its code exists; its id, or None when the code is taken."""
    stmt = (
        pg_insert(Department)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["code"])
        .returning(Department.id)
    )
    found = session.execute(stmt).scalar()
    return None if found is None else int(found)


def set_wecom_webhook(session: Session, department_id: int, url: str | None) -> bool:
    """Set or clear a department's WeCom group robot; False when there is no such one."""
    stmt = (
        update(Department)
        .where(Department.id == department_id)
        .values(wecom_webhook=url)
        .returning(Department.id)
    )
    return session.execute(stmt).first() is not None


def id_of(session: Session, code: str) -> int | None:
    return session.scalar(select(Department.id).where(Department.code == code))


# ----------------------------------------------------------------------------- co-handling


def cohandlers(session: Session, request_id: int) -> list[Row[int, str]]:
    """协办: id and name of the departments co-handling a request, by name."""
    stmt = (
        select(Department.id, Department.name)
        .join(RequestCohandler, RequestCohandler.department_id == Department.id)
        .where(RequestCohandler.request_id == request_id)
        .order_by(Department.name, Department.id)
    )
    return list(session.execute(stmt).all())


def add_cohandlers(session: Session, request_id: int, department_ids: list[int]) -> list[int]:
    """Name departments co-handlers of a request; returns those newly added."""
    added: list[int] = []
    for department_id in department_ids:
        stmt = (
            pg_insert(RequestCohandler)
            .values(request_id=request_id, department_id=department_id)
            .on_conflict_do_nothing()
            .returning(RequestCohandler.department_id)
        )
        if session.execute(stmt).first() is not None:
            added.append(department_id)
    return added


def clear_cohandlers(session: Session, request_id: int) -> None:
    """The request left the departments (returned to the street or closed elsewhere)."""
    session.execute(delete(RequestCohandler).where(RequestCohandler.request_id == request_id))


# ------------------------------------------------------------------------ 社区吹哨 helpers


def callable_helpers(
    session: Session, community_code: str, person_ids: list[int]
) -> list[Row[int, str]]:
    """Of ``person_ids``, id and name of those a community may call up (社区吹哨): grid workers
    posted in the community today, and in-service party members living in it."""
    today = func.current_date()
    posted = (
        select(Assignment.person_id)
        .join(Grid, Grid.id == Assignment.grid_id)
        .where(
            Assignment.role == "grid_worker",
            Grid.code.startswith(community_code, autoescape=True),
            Assignment.start_date <= today,
            (Assignment.end_date.is_(None)) | (Assignment.end_date > today),
        )
    )
    home = select(Grid.id).where(Grid.code == community_code)
    in_service = select(Person.id).where(
        Person.kind == "in_service_member", Person.home_community_id.in_(home)
    )
    stmt = (
        select(Person.id, Person.name)
        .where(Person.id.in_(person_ids))
        .where(Person.id.in_(posted) | Person.id.in_(in_service))
        .order_by(Person.id)
    )
    return list(session.execute(stmt).all())


def add_helpers(session: Session, request_id: int, person_ids: list[int]) -> None:
    for person_id in person_ids:
        session.execute(
            pg_insert(RequestHelper)
            .values(request_id=request_id, person_id=person_id)
            .on_conflict_do_nothing()
        )


def clear_helpers(session: Session, request_id: int) -> None:
    """The request left the community: those it called up no longer help with it."""
    session.execute(delete(RequestHelper).where(RequestHelper.request_id == request_id))


def is_helper(session: Session, request_id: int, person_id: int | None) -> bool:
    if person_id is None:
        return False
    found = select(RequestHelper.person_id).where(
        RequestHelper.request_id == request_id, RequestHelper.person_id == person_id
    )
    return bool(session.scalar(select(found.exists())))


# ------------------------------------------------------------------------------ extensions


def pending_extension(
    session: Session, request_id: int, *, lock: bool = True
) -> RequestExtension | None:
    """The extension asked for and not yet answered (at most one), locked unless ``lock`` is
    False (a read)."""
    stmt = select(RequestExtension).where(
        RequestExtension.request_id == request_id, RequestExtension.state == "pending"
    )
    return session.scalar(stmt.with_for_update() if lock else stmt)


def ask_extension(session: Session, values: dict[str, Any]) -> int:
    stmt = insert(RequestExtension).values(**values).returning(RequestExtension.id)
    return int(session.execute(stmt).scalar_one())


def answer_extension(
    session: Session, extension_id: int, state: str, answer: str | None, at: dt.datetime
) -> None:
    session.execute(
        update(RequestExtension)
        .where(RequestExtension.id == extension_id)
        .values(state=state, answer=answer, answered_at=at)
    )
