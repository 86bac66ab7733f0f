"""Drawing one block's requests: when, what and where, and the duplicates.

The filing moments follow the day's hour-of-day profile (:mod:`.model`). The background of a
category follows household density (weighted by residents; elderly care by households tagged
elderly_alone or disabled); a hot spot's requests fall around it (:mod:`.places`). Categories
that come from homes (neighbour disputes, elderly care, property repair, heating, water; and
the residents around a construction site) are filed from a household: the kernel's point
snaps to the nearest household, and the request carries that household's id, point and
micro-grid. The others (vendors, parking, flyers, billboards, debris, flooding…) are points
in the street (the background within some 60 m of a household), located to their micro-grid
with :func:`gridmap.spatial.locate.locate_points`; a point outside every micro-grid is pulled
towards the nearest household until it lies inside one.

1 % of the requests are duplicates of an earlier one nearby (same category, hours later).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gridmap.demo.generator.city import City
from gridmap.demo.generator.model import CATEGORY_MODELS, Floats, Ints, profile, share_of_day
from gridmap.demo.generator.world import World
from gridmap.spatial.locate import locate_points


@dataclass
class Drawn:
    """One block's requests, in filing order."""

    created: Ints
    category: Ints
    lon: Floats
    lat: Floats
    household: Ints  # index into the city's households, -1: filed from the street
    micro: Ints  # index into the city's micro-grids
    original: Ints  # position of the original (duplicates), else -1

    def take(self, order: Ints) -> Drawn:
        position = np.empty_like(order)
        position[order] = np.arange(order.size)
        original = self.original[order]
        original = np.where(original >= 0, position[np.maximum(original, 0)], -1)
        return Drawn(
            self.created[order],
            self.category[order],
            self.lon[order],
            self.lat[order],
            self.household[order],
            self.micro[order],
            original,
        )


def day_blocks(counts: Ints, target: int) -> list[tuple[int, int]]:
    """Runs of days with about ``target`` requests each (a day is never split)."""
    per_day = counts.sum(axis=(0, 1))
    bounds, total, first = [], 0, 0
    for day, n in enumerate(per_day.tolist()):
        if total and total + n > target:
            bounds.append((first, day))
            first, total = day, 0
        total += n
    bounds.append((first, per_day.size))
    return bounds


def draw_block(
    world: World, rng: np.random.Generator, cells: Ints, first: int, duplicates: int
) -> Drawn:
    """The block's requests (``cells``: counts per category, component and day from day
    ``first``): who, when and where; duplicates of some; sorted by filing time."""
    repeat = np.repeat(np.arange(cells.size), cells.ravel())
    category, component, day = np.unravel_index(repeat, cells.shape)
    category, component = category.astype(np.int64), component.astype(np.int64)
    created = _filing_times(world, rng, category, day.astype(np.int64) + first)
    lon, lat, household, micro = _places_of(world, rng, category, component)
    n = created.size
    base = Drawn(created, category, lon, lat, household, micro, np.full(n, -1, dtype=np.int64))
    both = _with_duplicates(world, rng, base, min(duplicates, n))
    return both.take(np.lexsort((both.original >= 0, both.created)))


def _filing_times(world: World, rng: np.random.Generator, category: Ints, day: Ints) -> Ints:
    """Filing moments: the day's local midnight plus an hour-of-day profile draw, never after
    the end."""
    u = rng.random(category.size)
    last = day == len(world.span.days) - 1
    seconds = np.zeros(category.size)
    for c, model in enumerate(CATEGORY_MODELS):
        pick = category == c
        cdf = profile(model.profile)
        top = np.where(last[pick], share_of_day(cdf, world.span.last_day_seconds), 1.0)
        seconds[pick] = 3600.0 * np.interp(u[pick] * top, cdf, np.arange(25.0))
    created = world.span.day_start[day] + np.floor(seconds).astype(np.int64)
    return np.minimum(created, world.span.end - 1)


def _places_of(
    world: World, rng: np.random.Generator, category: Ints, component: Ints
) -> tuple[Floats, Floats, Ints, Ints]:
    """Where each request is filed: a household's point, or a point in the street."""
    city = world.city
    share = np.array([m.household for m in CATEGORY_MODELS])
    from_home = rng.random(category.size) < share[category]
    x, y = _kernel_points(world, rng, category, component)
    household = np.full(category.size, -1, dtype=np.int64)
    home = np.flatnonzero(from_home)
    household[home] = world.tree.query(np.column_stack([x[home], y[home]]))[1]
    lon, lat = world.plane.degrees(x, y)
    street = ~from_home
    lon[street], lat[street], micro_street = _located(world, rng, lon[street], lat[street])
    micro = np.empty(category.size, dtype=np.int64)
    micro[street] = micro_street
    micro[home] = city.house_micro[household[home]]
    lon[home], lat[home] = city.house_lon[household[home]], city.house_lat[household[home]]
    return lon, lat, household, micro


def _kernel_points(
    world: World, rng: np.random.Generator, category: Ints, component: Ints
) -> tuple[Floats, Floats]:
    """Points (metres) around a place's centre, or around a household for the background."""
    city, p = world.city, world.places
    x, y = np.empty(category.size), np.empty(category.size)
    background = component == 0
    for cared in (False, True):
        pick = background & (category == _ELDERLY) if cared else background & (category != _ELDERLY)
        weights = city.house_residents * (np.where(city.house_cared, 25.0, 1.0) if cared else 1.0)
        chosen = rng.choice(city.house_id.size, size=int(pick.sum()), p=weights / weights.sum())
        hx, hy = world.plane.metres(city.house_lon[chosen], city.house_lat[chosen])
        x[pick], y[pick] = (
            hx + rng.normal(0, 60.0, chosen.size),
            hy + rng.normal(0, 60.0, chosen.size),
        )
    hot = np.flatnonzero(~background)
    place = component[hot] - 1
    along = rng.normal(0.0, 1.0, hot.size) * p.sigma[place]
    across = rng.normal(0.0, 1.0, hot.size) * np.where(
        p.across[place] > 0, p.across[place], p.sigma[place]
    )
    cos, sin = np.cos(p.angle[place]), np.sin(p.angle[place])
    x[hot] = p.x[place] + along * cos - across * sin
    y[hot] = p.y[place] + along * sin + across * cos
    return x, y


_ELDERLY = next(i for i, m in enumerate(CATEGORY_MODELS) if m.code == "elderly.care")


def _located(
    world: World, rng: np.random.Generator, lon: Floats, lat: Floats
) -> tuple[Floats, Floats, Ints]:
    """Street points located to their micro-grid; those outside every one are moved towards
    the nearest household until inside (or onto it)."""
    city = world.city
    micro = _micro_index(city, lon, lat)
    for _ in range(6):
        out = np.flatnonzero(micro < 0)
        if out.size == 0:
            break
        x, y = world.plane.metres(lon[out], lat[out])
        near = world.tree.query(np.column_stack([x, y]))[1]
        hx, hy = world.plane.metres(city.house_lon[near], city.house_lat[near])
        t = rng.uniform(0.3, 1.0, out.size)
        lon[out], lat[out] = world.plane.degrees(hx + (x - hx) * (1 - t), hy + (y - hy) * (1 - t))
        micro[out] = _micro_index(city, lon[out], lat[out])
    out = np.flatnonzero(micro < 0)
    if out.size:
        x, y = world.plane.metres(lon[out], lat[out])
        near = world.tree.query(np.column_stack([x, y]))[1]
        lon[out], lat[out], micro[out] = (
            city.house_lon[near],
            city.house_lat[near],
            city.house_micro[near],
        )
    return lon, lat, micro


def _micro_index(city: City, lon: Floats, lat: Floats) -> Ints:
    found = locate_points(lon, lat, city.micro_id, city.micro_geom)
    index = np.searchsorted(city.micro_id, found)
    return np.where(found >= 0, index, -1).astype(np.int64)


def _with_duplicates(world: World, rng: np.random.Generator, base: Drawn, n: int) -> Drawn:
    """``base`` and ``n`` duplicates: the same problem filed again hours later, nearby or from
    the same home."""
    original = rng.choice(base.created.size, size=n, replace=False)
    delay = np.rint(rng.lognormal(np.log(3 * 3600.0), 1.0, n)).astype(np.int64) + 60
    created = base.created[original] + delay
    room = world.span.end - base.created[original]
    late = created >= world.span.end
    created[late] = base.created[original][late] + np.floor(
        rng.random(late.sum()) * room[late]
    ).astype(np.int64)
    same_home = (base.household[original] >= 0) & (rng.random(n) < 0.5)
    x, y = world.plane.metres(base.lon[original], base.lat[original])
    lon, lat = world.plane.degrees(x + rng.normal(0, 30.0, n), y + rng.normal(0, 30.0, n))
    lon, lat, micro = _located(world, rng, lon, lat)
    lon = np.where(same_home, base.lon[original], lon)
    lat = np.where(same_home, base.lat[original], lat)
    micro = np.where(same_home, base.micro[original], micro)
    return Drawn(
        np.concatenate([base.created, created]),
        np.concatenate([base.category, base.category[original]]),
        np.concatenate([base.lon, lon]),
        np.concatenate([base.lat, lat]),
        np.concatenate([base.household, np.where(same_home, base.household[original], -1)]),
        np.concatenate([base.micro, micro]),
        np.concatenate([base.original, original.astype(np.int64)]),
    )
