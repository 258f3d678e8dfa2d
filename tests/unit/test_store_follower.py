"""Another process's view of the persisted store follows its log line by line, and reads it whole
again when the store compacted itself into a new snapshot."""

from __future__ import annotations

from pathlib import Path

from orchestrator.apiserver import store as store_mod
from orchestrator.apiserver.store import Follower, Store, read_persisted


def obj(name: str, value: str) -> dict[str, object]:
    return {"metadata": {"name": name, "namespace": "default"}, "data": {"v": value}}


def test_the_follower_sees_each_write_and_a_compaction(tmp_path: Path) -> None:
    path = tmp_path / "store.json"
    s = Store(path)
    s.write("configmaps", obj("a", "1"))
    f = Follower(path)
    assert f.read() == s.rv and f.objects["configmaps"][("default", "a")]["data"] == {"v": "1"}
    s.write("configmaps", obj("a", "2"))
    s.write("configmaps", obj("b", "1"))
    assert f.read() == s.rv
    assert f.objects["configmaps"][("default", "a")]["data"] == {"v": "2"} and ("default", "b") in f.objects["configmaps"]
    s.write("configmaps", obj("b", "1"), deleted=True)
    s._compact()  # a new snapshot, the log started again
    for v in range(3, 9):  # the new log grows past what was read of the old one
        s.write("configmaps", obj("a", str(v)))
    s.write("configmaps", obj("a", "3"))
    assert f.read() == s.rv
    assert f.objects["configmaps"] == read_persisted(path)[1]["configmaps"]
    assert f.objects["configmaps"][("default", "a")]["data"] == {"v": "3"}


def test_a_line_being_written_waits_for_its_end(tmp_path: Path) -> None:
    path = tmp_path / "store.json"
    s = Store(path)
    s.write("configmaps", obj("a", "1"))
    f = Follower(path)
    f.read()
    log = store_mod.journal_of(path)
    line = log.read_bytes()
    with log.open("ab") as out:
        out.write(line.replace(b'"v":"1"', b'"v":"9"').replace(b'"rv":1', b'"rv":99')[:-10])
    f.read()
    assert f.objects["configmaps"][("default", "a")]["data"] == {"v": "1"}
