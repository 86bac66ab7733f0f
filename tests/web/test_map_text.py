"""Names and addresses from an import reach the map's tooltips and popups as text, never as
HTML: a zone named ``<img src=x onerror=…>`` shows those characters, and no element (nor a
request for ``x``, nor a CSP violation) comes of it. Real Chromium against the live server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from gridmap.storage.models import Grid, Household
from tests.web.browser import Watched, wait_for, wait_until_loaded
from tests.web.test_map_page import DONGCHENG_BBOX

PAYLOAD = "<img src=x onerror=\"document.title='pwned'\">"
ADDRESS = "东城区<img src=x onerror=\"document.title='pwned'\">号"

#: Every tooltip and popup the page holds: what each shows and whether it holds an element
#: that the code did not put there on purpose (an img, a script, an iframe).
_OVERLAYS = """() => [...document.querySelectorAll('.leaflet-tooltip, .leaflet-popup-content')]
    .map((n) => ({
        text: n.textContent,
        injected: n.querySelectorAll('img, script, iframe').length,
    }))"""


@pytest.fixture
def html_named(web_engine: Engine, api: Callable[..., Any]) -> Iterator[dict[str, Any]]:
    """A zone of demo-street's street named, and one of its households addressed, with HTML
    (as an import could bring them); the old values come back afterwards."""
    zone = api("demo-street", "/grids", level="zone", bbox=DONGCHENG_BBOX, limit=1)["features"][0]
    households = api("demo-street", "/households", grid=zone["id"], limit=1)["features"]
    household = households[0]
    with Session(web_engine) as session:
        grid = session.scalars(select(Grid).where(Grid.code == zone["id"])).one()
        home = session.get(Household, household["id"])
        assert home is not None
        old_name, old_address = grid.name, home.address
        session.execute(update(Grid).where(Grid.id == grid.id).values(name=PAYLOAD))
        session.execute(
            update(Household).where(Household.id == household["id"]).values(address=ADDRESS)
        )
        session.commit()
    yield {"zone": zone, "household": household}
    with Session(web_engine) as session:
        session.execute(update(Grid).where(Grid.code == zone["id"]).values(name=old_name))
        session.execute(
            update(Household).where(Household.id == household["id"]).values(address=old_address)
        )
        session.commit()


def test_an_html_grid_name_and_address_show_as_text(street: Watched, html_named) -> None:
    lon, lat = html_named["household"]["geometry"]["coordinates"]
    street.open((17, lat, lon))
    page = street.page
    wait_for(page, "path.gm-grid-zone")
    wait_until_loaded(page, "household")
    page.wait_for_function(
        "(t) => [...document.querySelectorAll('.gm-label-zone')].some((n) => n.textContent === t)",
        arg=PAYLOAD,
    )
    # The household's tooltip (opened as a hover would) and the zone's popup (as a click would).
    page.evaluate(
        """(id) => {
            const g = window.gridmap;
            g.layers.household.getLayers()
                .filter((l) => String(l.feature.properties.id) === String(id))
                .forEach((l) => l.openTooltip());
            g.layers.zone.getLayers().forEach((l) => l.openPopup());
        }""",
        html_named["household"]["id"],
    )
    overlays = page.evaluate(_OVERLAYS)
    texts = [o["text"] for o in overlays]
    assert PAYLOAD in texts
    assert any(t.startswith("东城区<img src=x onerror=") for t in texts), texts
    assert any(PAYLOAD in t for t in texts if t != PAYLOAD), "the zone's popup"
    assert [o for o in overlays if o["injected"]] == []
    assert page.title() != "pwned"
    street.assert_clean()
