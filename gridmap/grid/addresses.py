"""Finding a place by its address (门牌地址): Open311's ``address_string``.

An address is matched against the households' addresses in the caller's scope, compared
after normalising both (``gridmap_address_key`` in the database: NFKC, so full-width digits
are ASCII, lower case, without spaces and ASCII punctuation); there is no fuzzy match and no
outside geocoder. A household's whole address gives that household; an address up to a
building number (``…12号楼``, ``…3栋``, ``…5幢``) gives the centre of that building's
households. Anything else is refused, naming the address.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from gridmap.access.auth import Scope
from gridmap.core.errors import InvalidInput
from gridmap.storage import households


@dataclass(frozen=True)
class AddressPlace:
    """Where an address is: a household (``household_id``), or a building's centre
    (``lon``/``lat`` in EPSG:4490)."""

    household_id: int | None = None
    lon: float | None = None
    lat: float | None = None


def geocode(session: Session, text: str, scope: Scope) -> AddressPlace:
    """The household or building at address ``text`` in ``scope``; a 400 naming the address
    when there is none, or more than one household has it."""
    found = households.at_address(session, text, scope)
    if len(found) == 1:
        return AddressPlace(household_id=found[0])
    if found:
        raise InvalidInput(
            f"address_string {text!r} is the address of several households: give lat and "
            "long, or the household as address_id"
        )
    building = households.building_at_address(session, text, scope)
    if building is not None:
        return AddressPlace(lon=float(building[0]), lat=float(building[1]))
    raise InvalidInput(
        f"address_string {text!r} is not the address of a household or building in your area "
        "(compared whole, ignoring spaces, punctuation and full-width digits): give lat and "
        "long, or the household as address_id"
    )
