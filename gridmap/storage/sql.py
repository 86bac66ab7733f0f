"""Small SQL helpers shared by the query modules."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import BindParameter, literal
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import TypeEngine


def as_array(
    values: Iterable[Any], item_type: TypeEngine[Any] | type[TypeEngine[Any]]
) -> BindParameter[list[Any]]:
    """One array parameter instead of one parameter per value (use with ``= any_(...)``):
    files and selections can hold millions of values, past the protocol's 65 535."""
    return literal(list(values), ARRAY(item_type))
