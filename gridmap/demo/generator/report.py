"""What :func:`~gridmap.demo.generator.generate_requests` reports: the counts written, the hot
spots drawn (the truth the review's hot spots can be checked against), the blocks of days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Hotspot:
    """A place where requests concentrate: its type, centre, width and trend."""

    kind: str
    name: str
    lon: float
    lat: float
    sigma_m: float
    trend: str
    categories: tuple[str, ...]


@dataclass(frozen=True)
class Block:
    """Days drawn and written together (what ``progress`` is given)."""

    number: int
    first_day: dt.date
    last_day: dt.date
    requests: int


@dataclass
class Report:
    """What :func:`generate_requests` wrote."""

    requests: int
    events: int
    first_id: int | None
    last_id: int | None
    start: dt.datetime
    end: dt.datetime
    seconds: float
    states: dict[str, int] = field(default_factory=dict)
    categories: dict[str, int] = field(default_factory=dict)
    hotspots: list[Hotspot] = field(default_factory=list)

    @property
    def rows_per_second(self) -> float:
        return (self.requests + self.events) / self.seconds if self.seconds > 0 else 0.0

    def as_text(self) -> str:
        states = ", ".join(f"{k} {v:,}" for k, v in sorted(self.states.items()))
        trends = {t: sum(h.trend == t for h in self.hotspots) for t in ("emerging", "fading")}
        return "\n".join(
            [
                f"requests: {self.requests:,} written (ids {self.first_id}..{self.last_id}), "
                f"{self.events:,} events",
                f"  filed {self.start:%Y-%m-%d} .. {self.end:%Y-%m-%d %H:%M} (Asia/Shanghai)",
                f"  states: {states}",
                f"  hot spots: {len(self.hotspots)} ({trends['emerging']} emerging, "
                f"{trends['fading']} fading)",
                f"  {self.seconds:.1f} s, {self.requests / max(self.seconds, 1e-9):,.0f} "
                f"requests/s, {self.rows_per_second:,.0f} rows/s",
            ]
        )
