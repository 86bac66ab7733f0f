"""GIS exports (导出): households, grids and requests as GeoJSON, GeoPackage and CSV with
lon/lat or WKT, in the caller's scope and masked by the rule of every answer.

``layers`` says what each layer holds (its filters, fields and masked records), ``writers``
writes the formats, ``export_jobs`` is the background job (``exports.gis``) that builds a
file, which a GeoPackage always is.
"""
