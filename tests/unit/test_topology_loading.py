"""The topology loader on files a user may hand it: duplicate keys, binary files, a copy elsewhere."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from orchestrator.errors import ValidationFailed
from orchestrator.topology import DEFAULT_PATH, load


def test_a_duplicate_node_key_is_refused_with_both_lines(tmp_path: Path) -> None:
    lines = DEFAULT_PATH.read_text().splitlines()
    first = next(i for i, ln in enumerate(lines) if ln.strip() == "calico-worker:")
    block = [lines[first]] + [ln for ln in lines[first + 1:first + 4] if ln.startswith("      ")]
    copy = tmp_path / "topo.clab.yml"
    copy.write_text("\n".join(lines[:first + len(block)] + block + lines[first + len(block):]) + "\n")
    with pytest.raises(ValidationFailed) as exc:
        load(copy)
    (problem,) = exc.value.problems
    assert problem.file == str(copy) and problem.field == f"line {first + len(block) + 1}"
    assert problem.message == f"key 'calico-worker' given again (first at line {first + 1})"


def test_a_binary_file_is_refused_with_its_line(tmp_path: Path) -> None:
    blob = tmp_path / "topo.bin"
    blob.write_bytes(b"name: x\ntopology:\n  \x89PNG\x00\x01\n")
    with pytest.raises(ValidationFailed) as exc:
        load(blob)
    (problem,) = exc.value.problems
    assert problem.file == str(blob) and problem.field == "line 3" and "not a text file" in problem.message


def test_a_copy_in_another_folder_loads_with_a_note(tmp_path: Path) -> None:
    shutil.copy(DEFAULT_PATH, tmp_path / "topology.clab.yml")
    topo = load(tmp_path / "topology.clab.yml")
    assert [n.name for n in topo.routers] == [n.name for n in load(DEFAULT_PATH).routers]
    (note,) = topo.notes
    assert "does not exist" in note and "the netns engine does not need it" in note
    assert load(DEFAULT_PATH).notes == ()
