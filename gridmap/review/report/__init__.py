"""The monthly review report (一月一研判报告): one month of one area's residents' requests as a
self-contained HTML page with static maps and charts, and as an Excel workbook of its tables.

:func:`monthly` gathers the figures once: counts from the request tally
(:mod:`gridmap.storage.review`, so the work grows with the number of grids, not of requests),
the Gi* hot spots and their six-month trend (:func:`gridmap.review.service.hot_spots`), the 三率 of
the area's communities, zones or micro-grids (:func:`gridmap.requests.rates.ranking`) and today's
grid polygons of the area. :func:`to_html` and :func:`to_xlsx` only lay them out; the charts and
maps are drawn by matplotlib as inline SVG whose text stays text (the browser draws the Chinese
with its own fonts), so the page needs no asset, no script and prints on A4.

The area is the caller's scope narrowed to the chosen grid: nothing outside it is counted,
listed or drawn. Nothing personal goes in either: a request appears by id, category, state,
micro-grid and deadline; people not at all.
"""

from gridmap.review.report.charts import count_classes
from gridmap.review.report.data import MonthlyReport, every_county, monthly
from gridmap.review.report.html import to_html
from gridmap.review.report.workbook import to_xlsx

__all__ = ["MonthlyReport", "count_classes", "every_county", "monthly", "to_html", "to_xlsx"]
