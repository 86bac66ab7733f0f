"""A grid and a household as they leave the server: the one masking rule of every answer that
shows them (the API's GeoJSON, its CSV downloads and the GIS exports of ``gridmap.exports``).

Addresses keep their public part (up to the community or road), building, unit and room
numbers lose every digit; grids carry no personal data.
"""

from __future__ import annotations

from typing import Any

from gridmap.core.privacy import mask_address, mask_digits
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
) -> dict[str, Any]:
    return {
        "id": row.id,
        "address": mask_address(row.address),
        "building": mask_digits(row.building),
        "unit": mask_digits(row.unit),
        "room": mask_digits(row.room),
        "residents": row.residents,
        "care_tags": list(row.care_tags),
        "micro_grid_code": row.micro_grid_code,
        "covered": row.covered,
    }
