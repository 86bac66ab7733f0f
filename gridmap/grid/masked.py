"""A grid and a household as they leave the server: the one masking rule of every answer that
shows them (the API's GeoJSON, its CSV downloads and the GIS exports of ``gridmap.exports``).

A household's address, building, unit and room number are shown as the reader's
:class:`~gridmap.core.privacy.Disclosure` says (:func:`gridmap.core.privacy.disclosure_for`:
plain to the staff with a duty to it, else the public part up to the community or road and
no digit after it); grids carry no personal data.
"""

from __future__ import annotations

from typing import Any

from gridmap.core.privacy import Disclosure
from gridmap.storage.grids import GridRow
from gridmap.storage.households import HouseholdDetailRow, HouseholdExportRow, HouseholdRow


def grid_properties(row: GridRow) -> dict[str, Any]:
    return {
        "code": row.code,
        "name": row.name,
        "level": row.level,
        "kind": row.kind,
        "parent_code": row.parent_code,
        "valid_from": row.valid_from.isoformat(),
        "valid_to": row.valid_to.isoformat() if row.valid_to else None,
    }


def household_properties(
    row: HouseholdRow | HouseholdDetailRow | HouseholdExportRow,
    disclosure: Disclosure,
) -> dict[str, Any]:
    """A household as ``disclosure``'s reader sees it."""
    return {
        "id": row.id,
        "address": disclosure.address(row.address),
        "building": disclosure.door(row.building),
        "unit": disclosure.door(row.unit),
        "room": disclosure.door(row.room),
        "residents": row.residents,
        "care_tags": list(row.care_tags),
        "micro_grid_code": row.micro_grid_code,
        "covered": row.covered,
    }
