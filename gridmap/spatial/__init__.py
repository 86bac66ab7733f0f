"""Pure shapely/geopandas functions: CRS conversion, grid validation, locate, generation.

Nothing here imports flask, sqlalchemy or folium; the tests need no database.
"""
