"""Everything the draws need, built once per run: the city, its places, the calendar, the
working-time table, the intensities, the owners by micro-grid and the texts staged once.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from gridmap.demo.generator.city import City
from gridmap.demo.generator.model import (
    CATEGORY_MODELS,
    DESCRIPTIONS,
    ENDINGS,
    LEVELS,
    SURNAMES,
    Bools,
    Floats,
    Ints,
    profile,
    share_of_day,
)
from gridmap.demo.generator.places import Places, Plane, draw_places
from gridmap.demo.generator.report import Hotspot
from gridmap.demo.generator.span import Span, day_factors
from gridmap.requests import deadlines, service
from gridmap.requests.service import Owner

#: How far past the end the calendar is exact: beyond every deadline of a stage begun by then.
_EXACT_AHEAD: Final = dt.timedelta(days=30)


@dataclass
class World:
    """Everything the draws need: the city, its places, the calendar and the intensities."""

    city: City
    span: Span
    clock: deadlines.WorkingTimeTable
    plane: Plane
    tree: Any  # cKDTree of the households, in metres
    places: Places
    intensity: Floats  # (categories, 1 + places, days)
    post_festival: Bools
    texts: list[str]
    departments: list[str]
    text_ids: dict[str, int] = field(init=False, default_factory=dict)
    routed_owners: Owners = field(init=False)
    exact_owners: Owners = field(init=False)
    slowness: dict[str, Floats] = field(init=False)
    department_of: Ints = field(init=False)
    summoned: tuple[Ints, Ints] = field(init=False)
    descriptions: Ints = field(init=False)
    names: Ints = field(init=False)

    @classmethod
    def build(cls, city: City, span: Span, seed: int) -> World:
        rng = np.random.default_rng([seed, 0])
        plane = Plane(city.house_lon, city.house_lat)
        hx, hy = plane.metres(city.house_lon, city.house_lat)
        tree = cKDTree(np.column_stack([hx, hy]))
        places = draw_places(rng, city, plane, len(span.days))
        factor, post_festival = day_factors(span)
        world = cls(
            city=city,
            span=span,
            # Deadlines and late steps run past the end: a year of room.
            clock=deadlines.WorkingTimeTable(
                span.days[0], len(span.days) + 400, exact_until=span.days[-1] + _EXACT_AHEAD
            ),
            plane=plane,
            tree=tree,
            places=places,
            intensity=np.empty(0),
            post_festival=post_festival,
            texts=[],
            departments=sorted({m.department for m in CATEGORY_MODELS if m.department}),
        )
        world.intensity = world._intensity(factor)
        world.text_index([""])  # 1: the owner's "why" on its own steps
        world._register_texts(rng)
        return world

    def _register_texts(self, rng: np.random.Generator) -> None:
        """Owners by micro-grid, descriptions and contact names as indexes of the texts
        staged once (every text is known before the first row is written)."""
        routed, exact = self.city.routes()
        self.routed_owners = self._owner_arrays(routed)
        self.exact_owners = self._owner_arrays(exact)
        self.slowness = _slowness(rng, self.city, self.routed_owners)
        self.department_of = np.array(
            [
                self.departments.index(m.department) + 1 if m.department else 0
                for m in CATEGORY_MODELS
            ]
        )
        by_street = [service.summoned(*self.city.departments[d]) for d in self.departments]
        self.summoned = (
            self.text_index(["", *(self._owner_json(o) for o in by_street)]),
            self.text_index(["", *(self._owner_json(o, plain=True) for o in by_street)]),
        )
        self.descriptions = np.array(
            [
                self.text_index(
                    [f"{text}{ending}" for text in DESCRIPTIONS[m.code] for ending in ENDINGS]
                )
                for m in CATEGORY_MODELS
            ]
        )
        self.names = self.text_index([f"{s}{t}" for s in SURNAMES for t in ("先生", "女士")])

    def _owner_json(self, owner: Owner, *, plain: bool = False) -> str:
        """The ``owner`` of an event's detail, as :func:`gridmap.requests.service.owner_detail`
        writes it: why it was chosen on a hand-over, ``""`` on the owner's own steps."""
        routed = service.owner_detail(owner)
        if plain:
            routed["why"] = ""
        return json.dumps(routed, ensure_ascii=False)

    def _owner_arrays(self, owners: NDArray[np.object_]) -> Owners:
        flat: list[Owner] = owners.ravel().tolist()
        detail = self.text_index([self._owner_json(o) for o in flat])
        plain = self.text_index([self._owner_json(o, plain=True) for o in flat])
        fields = [
            [LEVELS.index(o.level) for o in flat],
            [o.person_id or 0 for o in flat],
            [o.user_id or 0 for o in flat],
            [self._department_index(o.department_id) for o in flat],
        ]
        arrays = [np.array(f, dtype=np.int64) for f in fields]
        return Owners(*(a.reshape(owners.shape) for a in (*arrays, detail, plain)))

    def _department_index(self, department_id: int | None) -> int:
        """1-based position of a department in :attr:`departments` (0: none)."""
        if department_id is None:
            return 0
        ids = [self.city.departments[code][0] for code in self.departments]
        return ids.index(department_id) + 1

    def department_ids(self) -> list[int]:
        """The ids of :attr:`departments`, in order (what the writer stores)."""
        return [self.city.departments[code][0] for code in self.departments]

    def _intensity(self, day_factor: Floats) -> Floats:
        """Expected requests per (category, component, day), up to a constant."""
        months = np.array([d.month - 1 for d in self.span.days])
        n_places = self.places.x.size
        out = np.zeros((len(CATEGORY_MODELS), 1 + n_places, len(self.span.days)))
        mean_curve = self.places.curve.mean(axis=1)
        for c, model in enumerate(CATEGORY_MODELS):
            season = np.array(model.months) / np.mean(model.months)
            base = model.share * season[months] * day_factor
            if model.code == "sanitation.garbage":
                base = base * np.where(self.post_festival, 2.2, 1.0)
            base[-1] *= share_of_day(profile(model.profile), self.span.last_day_seconds)
            pull = self.places.pull[c]
            norm = float(pull @ mean_curve)
            hot = model.hot if norm > 0 else 0.0
            out[c, 0] = base * (1.0 - hot)
            if hot:
                out[c, 1:] = base * hot * (pull / norm)[:, None] * self.places.curve
        return out

    def hotspots(self) -> list[Hotspot]:
        p = self.places
        lon, lat = self.plane.degrees(p.x, p.y)
        return [
            Hotspot(
                kind=t.kind,
                name=t.name,
                lon=round(float(lon[i]), 7),
                lat=round(float(lat[i]), 7),
                sigma_m=round(float(p.sigma[i]), 1),
                trend=p.trend[i],
                categories=tuple(t.draws),
            )
            for i, t in enumerate(p.types)
        ]

    def text_index(self, values: Sequence[str]) -> Ints:
        """Indexes (1-based) of ``values`` in the texts the writer stages."""
        out = np.empty(len(values), dtype=np.int64)
        for i, value in enumerate(values):
            if value not in self.text_ids:
                self.texts.append(value)
                self.text_ids[value] = len(self.texts)
            out[i] = self.text_ids[value]
        return out


def _slowness(rng: np.random.Generator, city: City, routed: Owners) -> dict[str, Floats]:
    """Each owner's pace: delays are multiplied by it (some grids are slower than others)."""
    people = max([int(routed.person.max()), *city.staff.values()]) + 1
    users = int(city.street_admin.max()) + 1
    return {
        "person": rng.lognormal(0.0, 0.35, people),
        "user": rng.lognormal(0.0, 0.35, users),
        "department": rng.lognormal(0.15, 0.35, 16),
    }


_OWNER_FIELDS = ("level", "person", "user", "department", "detail", "plain")


@dataclass
class Owners:
    """Owners as arrays: level index, person, user, department (1-based; 0 none), and the
    owner of an event's detail (text indexes): with why on a hand-over, plain otherwise."""

    level: Ints
    person: Ints
    user: Ints
    department: Ints
    detail: Ints
    plain: Ints

    def pick(self, *index: Ints) -> Owners:
        return Owners(*(getattr(self, f)[index] for f in _OWNER_FIELDS))

    def where(self, condition: Bools, other: Owners) -> Owners:
        return Owners(
            *(np.where(condition, getattr(self, f), getattr(other, f)) for f in _OWNER_FIELDS)
        )
