"""The reliability tests drive the whole stack like the e2e tests: the same `stack` and `driver` fixtures."""

from tests.e2e.conftest import driver, stack

__all__ = ["driver", "stack"]
