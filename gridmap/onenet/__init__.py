"""一张网 (多网合一): other departments' grid layers beside ours, and where they disagree.

- ``layers``: reading a department's grid file (the grid importers' readers, CRS and
  encodings), its validity (:mod:`gridmap.spatial.foreign`) and storing it apart from ours.
- ``overlay``: the overlay with our zones or micro-grids in PostGIS
  (``storage/onenet_overlay.sql``), its rule, and the refresh of overlays made stale by a
  change of either layer.
- ``jobs``: the import page's upload of a foreign layer and the recomputation, as jobs.
"""
