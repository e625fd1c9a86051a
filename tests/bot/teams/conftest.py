"""Fixtures of the Teams tests: `teams_cloud`, the offline stand-in for Microsoft's services."""

from tests.support.teams import teams_cloud  # noqa: F401  (fixture)
