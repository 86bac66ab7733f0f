"""Persistence: models and one query module per aggregate (grids, households, people)."""
