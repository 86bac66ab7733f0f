"""The summary printed at the end of a demo load: the district's shape, measured in the
database (:func:`gridmap.storage.shape.district_shape`), next to the knobs it was made with."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gridmap.core import clock
from gridmap.demo.shape import DemoShape
from gridmap.storage.shape import DistrictShape, Spread, district_shape


def measure(session: Session) -> DistrictShape:
    """The shape of what the database holds today."""
    return district_shape(session, clock.today())


def _spread(s: Spread) -> str:
    return f"min {s.min:,} / median {s.median:,.0f} / max {s.max:,}"


def _ratio(a: int, b: int) -> str:
    return f"{a / b:,.0f}" if b else "-"


def as_text(found: DistrictShape, shape: DemoShape) -> str:
    """Some lines for the terminal; each figure is followed by its knob where there is one."""
    lo, hi = shape.households_per_micro
    zlo, zhi = shape.households_per_zone
    mlo, mhi = shape.households_per_member
    covered = found.households - found.uncovered
    return "\n".join(
        [
            f"demo shape: {found.households:,} households in {found.zones:,} zones and "
            f"{found.micro_grids:,} micro-grids ({found.empty_micro_grids} empty)",
            f"  households per micro-grid   {_spread(found.per_micro)}   (knob {lo}–{hi})",
            f"  households per zone         {_spread(found.per_zone)}   (knob {zlo}–{zhi})",
            f"  micro-grids per zone        {_spread(found.micro_per_zone)}",
            f"  full-time grid workers      {found.workers:,}, per zone "
            f"{_spread(found.workers_per_zone)}; one per "
            f"{_ratio(found.households, found.workers)} households",
            f"  building leaders (volunteers) {found.leaders:,}, "
            f"{found.leaders / max(found.micro_grids, 1):.1f} per micro-grid, "
            f"{found.micro_without_leader} micro-grids without one",
            f"  covering members            {found.members:,}, households each "
            f"{_spread(found.per_member)}   (knob {mlo}–{mhi}); "
            f"{covered:,} covered, {found.uncovered:,} uncovered "
            f"({found.uncovered / max(found.households, 1):.1%}, "
            f"knob {shape.uncovered_share:.0%})",
        ]
    )
