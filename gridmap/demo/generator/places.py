"""Hot-spot places: where requests concentrate, and how each one grows or fades.

**Where.** Hot spots are typed places (:data:`~.model.PLACE_TYPES`): markets, construction
sites, old courtyards (老旧小区), busy streets and low-lying spots, each linked to the
categories it draws (a market: vendors, garbage, parking, flyers). A place's requests fall
around it with a Gaussian kernel, σ 40–300 m, stretched along the street for a street
(σ 150–400 m along, 15–40 m across).

**Trends.** Each place is ``stable``, ``emerging`` (nothing until an onset in the last 25–45 %
of the span, then a steady climb to 2.5–4× a stable place: a new construction site or
market) or ``fading`` (1.6× until a turn in the first half, then down to 5 %: a finished
site); at least two of each. :attr:`~.report.Report.hotspots` lists them, so the review's
"emerging hot spots" can be checked against the truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from gridmap.demo.generator.city import City
from gridmap.demo.generator.model import CATEGORY_MODELS, PLACE_TYPES, Floats, PlaceType
from gridmap.spatial.locate import locate_points

_METRES_PER_DEGREE: Final = (111_320.0, 110_574.0)


@dataclass
class Places:
    """Hot-spot places: centre (metres), kernel, trend per day and pull per category."""

    types: list[PlaceType]
    x: Floats
    y: Floats
    sigma: Floats
    across: Floats  # 0: a round kernel
    angle: Floats
    trend: list[str]
    curve: Floats  # (places, days)
    pull: Floats  # (categories, places)


class Plane:
    """Metres east and north of a centre, for kernels and nearest neighbours."""

    def __init__(self, lon: Floats, lat: Floats) -> None:
        self.lon0, self.lat0 = float(np.mean(lon)), float(np.mean(lat))
        self.kx = _METRES_PER_DEGREE[0] * float(np.cos(np.radians(self.lat0)))
        self.ky = _METRES_PER_DEGREE[1]

    def metres(self, lon: Floats, lat: Floats) -> tuple[Floats, Floats]:
        return (lon - self.lon0) * self.kx, (lat - self.lat0) * self.ky

    def degrees(self, x: Floats, y: Floats) -> tuple[Floats, Floats]:
        return self.lon0 + x / self.kx, self.lat0 + y / self.ky


def _trend_curve(kind: str, u: Floats, rng: np.random.Generator) -> Floats:
    """A place's strength over the span (``u`` from 0 to 1)."""
    if kind == "emerging":
        onset, peak = rng.uniform(0.55, 0.75), rng.uniform(2.5, 4.0)
        return np.where(u < onset, 0.0, 0.1 + peak * (u - onset) / (1.0 - onset))
    if kind == "fading":
        turn = rng.uniform(0.25, 0.45)
        return np.clip(1.6 - 1.55 * (u - turn) / (0.85 - turn), 0.05, 1.6)
    return np.ones_like(u)


def _trends(rng: np.random.Generator, types: list[PlaceType]) -> list[str]:
    """Each place's trend; at least two emerging and two fading among those that may."""
    draws = rng.random(len(types))
    trend = [
        "emerging" if d < t.emerging else "fading" if d < t.emerging + t.fading else "stable"
        for d, t in zip(draws.tolist(), types, strict=True)
    ]
    for wanted in ("emerging", "fading"):
        able = [i for i, t in enumerate(types) if getattr(t, wanted) > 0 and trend[i] == "stable"]
        for i in able[: max(0, 2 - trend.count(wanted))]:
            trend[i] = wanted
    return trend


def draw_places(rng: np.random.Generator, city: City, plane: Plane, n_days: int) -> Places:
    types = [t for t in PLACE_TYPES for _ in range(t.count)]
    n = len(types)
    weights = city.house_residents / city.house_residents.sum()
    anchor = rng.choice(city.house_id.size, size=n, p=weights)
    ax, ay = plane.metres(city.house_lon[anchor], city.house_lat[anchor])
    x, y = ax + rng.normal(0, 120.0, n), ay + rng.normal(0, 120.0, n)
    lon, lat = plane.degrees(x, y)
    outside = locate_points(lon, lat, city.micro_id, city.micro_geom) < 0
    x[outside], y[outside] = ax[outside], ay[outside]  # a centre always lies in the city
    sigma = np.array([rng.uniform(*t.sigma) for t in types])
    across = np.array([rng.uniform(*t.across) if t.across else 0.0 for t in types])
    trend = _trends(rng, types)
    u = np.linspace(0.0, 1.0, n_days)
    curve = np.array([_trend_curve(k, u, rng) for k in trend]) * rng.lognormal(0, 0.4, (n, 1))
    pull = np.array([[t.draws.get(m.code, 0.0) for t in types] for m in CATEGORY_MODELS])
    angle = rng.uniform(0, np.pi, n)
    return Places(types, x, y, sigma, across, angle, trend, curve, pull)
