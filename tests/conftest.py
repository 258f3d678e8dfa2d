from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Lab tests need root (namespaces) and BIRD; say so instead of failing obscurely.
    reason = None
    if os.geteuid() != 0:
        reason = "lab tests need root (network namespaces): run `sudo make test`"
    elif not shutil.which("bird"):
        reason = "BIRD is not installed: run `sudo make deps`"
    if reason:
        for item in items:
            if "lab" in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def lab_name() -> Iterator[str]:
    """A lab name of the test's own, so a user's lab is never touched; removed whatever happens."""
    name = "t" + uuid.uuid4().hex[:6]
    try:
        yield name
    finally:
        from orchestrator.engines.netns.teardown import teardown
        from orchestrator.state import LabState

        teardown(name, LabState.load(name))
