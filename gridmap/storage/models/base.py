"""What every table shares: the declarative base with the naming convention, the stored CRS and
the geometry checks that are the database's last line of defence."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    MetaData,
)
from sqlalchemy.orm import DeclarativeBase

SRID = 4490
#: China's envelope in degrees (lon_min, lat_min, lon_max, lat_max), generous at the edges.
CHINA_ENVELOPE = (73.0, 3.0, 136.0, 54.0)

ENVELOPE_SQL = "ST_MakeEnvelope({}, {}, {}, {}, {})".format(*CHINA_ENVELOPE, SRID)


def in_list(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def geometry_checks(column: str = "geom") -> tuple[CheckConstraint, ...]:
    return (
        CheckConstraint(f"ST_IsValid({column})", name="geom_valid"),
        CheckConstraint(f"NOT ST_IsEmpty({column})", name="geom_not_empty"),
        CheckConstraint(f"ST_CoveredBy({column}, {ENVELOPE_SQL})", name="geom_in_china"),
    )


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


def in_array(column: str, values: tuple[str, ...]) -> str:
    return f"{column} <@ ARRAY[{', '.join(repr(v) for v in values)}]::text[]"
