"""The security suite's two communities (A and B) serve the building tests too."""

from tests.security.conftest import building_world, login_as, world

__all__ = ["building_world", "login_as", "world"]
