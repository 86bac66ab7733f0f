"""Imports of grids, households, people, assignments and coverage: all or nothing.

Each ``import_*`` function checks the whole input first, raises ``ImportRejected`` with every
problem it found (what and where) when anything is wrong, and otherwise writes into the
caller's session; the caller commits once, so a rejected or failed import writes nothing.
"""

from gridmap.grid.ingest.common import (
    ImportRejected,
    ImportReport,
    Progress,
)
from gridmap.grid.ingest.grids import import_grids, prepare_grids
from gridmap.grid.ingest.households import import_households, prepare_households
from gridmap.grid.ingest.people import import_assignments, import_coverage, import_people
from gridmap.grid.ingest.readers import (
    Chunks,
    is_table,
    read_features,
    read_grid_features,
    read_table,
    table_chunks,
    vector_chunks,
)

__all__ = [
    "Chunks",
    "ImportRejected",
    "ImportReport",
    "Progress",
    "import_assignments",
    "import_coverage",
    "import_grids",
    "import_households",
    "import_people",
    "is_table",
    "prepare_grids",
    "prepare_households",
    "read_features",
    "read_grid_features",
    "read_table",
    "table_chunks",
    "vector_chunks",
]
