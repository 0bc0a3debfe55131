"""Attack tests run against the real stack: the end-to-end fixtures (a stack per test, a driver of the public
contract) are shared with tests/e2e."""

from tests.e2e.conftest import driver, stack

__all__ = ["driver", "stack"]
