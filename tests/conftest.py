"""Suite-wide: the `pure_python` marker.

`make test-compiled` runs this same suite against the mypyc build. A few tests look at
CPython objects the way only the interpreted tree has them (inspect signatures, shared
int objects, `Final` in dataclass field annotations); compiled classes do not expose
these. Those tests carry `pure_python` and run, and must pass, in `make test`'s
interpreted run; in the compiled run they are reported as skipped, with this reason.
"""

from __future__ import annotations

import pytest

import quorumd


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if quorumd.build() != "compiled":
        return
    skip = pytest.mark.skip(reason="introspects the interpreted tree; runs in make test")
    for item in items:
        if item.get_closest_marker("pure_python"):
            item.add_marker(skip)
