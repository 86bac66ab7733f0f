"""The demo: Beijing Dongcheng's committed three-level grid and a generated population."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyogrio
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from gridmap import ingest
from gridmap.settings import Settings
from gridmap.spatial.generate import generate_population
from gridmap.storage.models import Grid

BOUNDARIES = Path(__file__).resolve().parents[1] / "data" / "boundaries"
GRID_FILE = BOUNDARIES / "dongcheng_grid.geojson"
DEFAULT_HOUSEHOLDS = 100_000


def has_data(session: Session) -> bool:
    return bool(session.scalar(select(exists().where(Grid.id.isnot(None)))))


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(str).replace({"None": "", "nan": ""})


def load(
    session: Session, *, households: int, seed: int, progress: ingest.Progress[Any] = iter,
    grid_file: Path = GRID_FILE,
) -> list[ingest.ImportReport]:  # fmt: skip
    """Import the committed grid, then a population of ``households`` generated over it."""
    grid = pyogrio.read_dataframe(grid_file)
    reports = [ingest.import_grids(session, grid, "EPSG:4490", Settings())]
    population = generate_population(grid, households=households, seed=seed)
    reports.append(ingest.import_households(session, population.households, "EPSG:4490",
                                            progress=progress))  # fmt: skip
    reports.append(ingest.import_people(session, _as_text(population.people)))
    reports.append(ingest.import_assignments(session, _as_text(population.assignments)))
    reports.append(ingest.import_coverage(session, _as_text(population.coverage)))
    return reports
