"""Lab names become paths and namespace names: nothing else may reach them."""

import pytest

from orchestrator.errors import LabError
from orchestrator.state import check_lab_name, run_dir
from orchestrator.engines.netns.teardown import teardown


@pytest.mark.parametrize("name", ["../victim", "/", "a/b", "", "UPPER", "-x", "x" * 25, "a.b"])
def test_bad_lab_names_are_refused_before_anything_is_touched(name: str) -> None:
    with pytest.raises(LabError, match="is not a lab name"):
        check_lab_name(name)
    with pytest.raises(LabError):
        run_dir(name)
    with pytest.raises(LabError):
        teardown(name, None)


@pytest.mark.parametrize("name", ["tls-passthrough", "t1a2b3", "bench-50", "a"])
def test_good_lab_names(name: str) -> None:
    assert check_lab_name(name) == name
