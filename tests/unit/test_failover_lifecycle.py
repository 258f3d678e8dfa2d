"""A failover run's node lifecycle: when the cut-off node's pods left the Endpoints and came back, read
from the polled addresses; the node lifecycle's Events as timeline lines; both clocks in the report."""

from __future__ import annotations

import pytest

from orchestrator.faults.lifecycle import Address, _addresses, _epoch, event_time, on_node
from orchestrator.faults.report import Line, Report, text

W1, W2 = "calico-worker", "calico-worker2"
A = Address("default/echo", "10.50.0.17", W1)
B = Address("default/echo", "10.50.0.33", W2)


def test_endpoints_removed_and_back_from_the_polled_addresses() -> None:
    history = [(99.0, frozenset({A, B})), (104.6, frozenset({B})), (112.3, frozenset({A, B}))]
    assert on_node(history, W1, 100.0, 100.0, 110.0, present=False) == 104.6
    assert on_node(history, W1, 100.0, 110.0, float("inf"), present=True) == 112.3
    assert on_node(history, W1, 100.0, 100.0, 104.0, present=False) is None  # not within the fault
    assert on_node(history, W2, 100.0, 100.0, 110.0, present=False) is None  # never left
    # a node that held no endpoint when the fault began: nothing to remove, nothing to bring back
    only_b = [(99.0, frozenset({B})), (112.0, frozenset({A, B}))]
    assert on_node(only_b, W1, 100.0, 100.0, 110.0, present=False) is None
    assert on_node(only_b, W1, 100.0, 110.0, float("inf"), present=True) is None


def test_addresses_read_from_an_endpoints_list() -> None:
    body = {"items": [{"metadata": {"namespace": "default", "name": "echo"},
                       "subsets": [{"addresses": [{"ip": "10.50.0.17", "nodeName": W1}], "ports": [{"port": 8443}]}]},
                      {"metadata": {"namespace": "default", "name": "empty"}, "subsets": []}]}
    assert _addresses(body) == [A]


def test_event_times_and_the_report_names_both_clocks() -> None:
    assert _epoch("2026-12-04T22:08:20.250000Z") == pytest.approx((_epoch("2026-12-04T22:08:20Z") or 0) + 0.25)
    assert _epoch("yesterday") is None
    lines = [Line(104.2, "node", f"node/{W1} NodeNotReady: Node {W1} status is now: NodeNotReady"),
             Line(111.9, "node", f"node/{W1} NodeReady: Node {W1} status is now: NodeReady")]
    assert event_time(lines, W1, "NodeNotReady", 100.0) == 104.2
    assert event_time(lines, W1, "NodeReady", 110.0) == 111.9
    assert event_time(lines, W2, "NodeNotReady", 100.0) is None
    rep = Report("isolate:calico-worker", "fast", 10, 20, 10.0, 200, 30, {"TLS handshake timeout": 30}, 4.1,
                 injected=100.0, repaired=110.0, route_converged=6.1, node=W1, node_not_ready=4.2,
                 endpoints_removed=4.6, node_ready=1.9, endpoints_restored=2.3)
    out = text(rep)
    assert (f"{W1} cut off: paths dropped by the bastion 6.10 s after the fault (hold timer); node NotReady 4.20 s, "
            "its pods' endpoints removed 4.60 s after the fault (node lifecycle)") in out
    assert "after the repair: node Ready 1.90 s, its pods' endpoints back 2.30 s" in out
    js = rep.as_json()
    assert (js["node_not_ready_s"], js["endpoints_removed_s"], js["endpoints_restored_s"]) == (4.2, 4.6, 2.3)


def _row(fault: str, node: str = "", **times: float | None) -> Report:
    return Report(fault, "fast", 20, 15, 10.0, 300, 200, {"TLS handshake timeout": 200}, 10.2, injected=100.0,
                  repaired=110.0, node=node, ok=True, **times)  # type: ignore[arg-type]


def test_suite_table_shows_the_node_lifecycle_only_for_a_node_cut_off() -> None:
    from orchestrator.faults.report import suite_table

    reports = [_row("isolate:calico-worker", W1, route_converged=4.45, route_restored=0.01, node_not_ready=3.81,
                    endpoints_removed=4.17),
               _row("link-down:calico-worker", W1, route_converged=5.11, node_not_ready=3.9),  # endpoints never seen
               _row("kill:gateway (TERM)", route_restored=0.0)]
    lines = suite_table(reports).splitlines()
    assert lines[0].startswith("timers: fast")
    head = [lines[1].split(), lines[2].split()]
    assert head[1] == ["FAULT", "AFTER", "REQUESTS", "FAILED", "OUTAGE", "CONVERGED", "RESTORED", "NOTREADY",
                       "REMOVED", "VERDICT"]
    assert head[0] == ["REPAIR", "LONGEST", "ROUTE", "ROUTE", "NODE", "ENDPOINTS"]
    # each header's two lines start in the same column as the cells under them
    assert lines[1].index("NODE") == lines[2].index("NOTREADY") == lines[3].index("3.81 s")
    assert lines[1].index("ENDPOINTS") == lines[2].index("REMOVED") == lines[3].index("4.17 s")
    assert lines[3].split("  ")[0] == "isolate:calico-worker"
    assert lines[4][lines[1].index("ENDPOINTS"):].split()[:2] == ["not", "seen"]
    gateway = lines[5][lines[1].index("ROUTE"):].split()
    assert gateway == ["-", "0.00", "s", "-", "-", "PASS"]  # no node cut off: no lifecycle times
    assert max(len(x) for x in lines[1:]) < 135  # narrower than the table before these columns
    # `failover --suite --json`: the same times per row, null where the fault cut no node off
    js = [r.as_json() for r in reports]
    assert (js[0]["node"], js[0]["node_not_ready_s"], js[0]["endpoints_removed_s"]) == (W1, 3.81, 4.17)
    assert js[1]["endpoints_removed_s"] is None
    assert (js[2]["node"], js[2]["node_not_ready_s"], js[2]["endpoints_removed_s"]) == ("", None, None)
