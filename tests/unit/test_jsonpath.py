import pytest

from orchestrator.errors import LabError
from orchestrator.k8s.jsonpath import JSONPath, JSONPathError, format_value, go_float, go_json, jsonpath

GATEWAY = {
    "kind": "Gateway",
    "metadata": {"name": "tls-passthrough-gateway", "namespace": "default", "labels": {"app.io/tier": "edge"}},
    "spec": {"listeners": [{"name": "http", "port": 80}, {"name": "tls", "port": 6443}]},
    "status": {
        "addresses": [{"type": "IPAddress", "value": "10.10.10.23"}],
        "conditions": [
            {"type": "Accepted", "status": "True", "observedGeneration": 2},
            {"type": "Programmed", "status": "False", "observedGeneration": 2},
        ],
    },
}
LIST = {"kind": "List", "items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}]}


def test_workshop_step7_gateway_address() -> None:
    assert jsonpath("{.status.addresses[0].value}", GATEWAY) == "10.10.10.23"


def test_a_gateway_without_status_prints_nothing() -> None:
    assert jsonpath("{.status.addresses[0].value}", {"metadata": {"name": "x"}}) == ""


def test_an_empty_address_list_is_an_error_like_kubectl() -> None:
    with pytest.raises(JSONPathError, match="array index out of bounds: index 0, length 0"):
        jsonpath("{.status.addresses[0].value}", {"status": {"addresses": []}})


@pytest.mark.parametrize(
    "template, data, expected",
    [
        ("{.items[*].metadata.name}", LIST, "a b"),
        ('{range .items[*]}{.metadata.name}{"\\n"}{end}', LIST, "a\nb\n"),
        ("{range .items[*]}[{.metadata.name}]{end}", LIST, "[a][b]"),
        ('{.status.conditions[?(@.type=="Accepted")].status}', GATEWAY, "True"),
        ("{.status.conditions[?(@.type=='Programmed')].status}", GATEWAY, "False"),
        ('{.status.conditions[?(@.status!="True")].type}', GATEWAY, "Programmed"),
        ("{.spec.listeners[?(@.port>100)].name}", GATEWAY, "tls"),
        ("{.spec.listeners[?(@.port==80)].name}", GATEWAY, "http"),
        ("{.spec.listeners[?(@.name)].port}", GATEWAY, "80 6443"),
        ("name={.metadata.name}, ns={.metadata.namespace}", GATEWAY, "name=tls-passthrough-gateway, ns=default"),
        ("{.spec.listeners[-1].name}", GATEWAY, "tls"),
        ("{.spec.listeners[0:1].name}", GATEWAY, "http"),
        ("{.spec.listeners[::1].name}", GATEWAY, "http tls"),
        ("{.spec.listeners[0,1].port}", GATEWAY, "80 6443"),
        ("{.spec.listeners[0]['name']}", GATEWAY, "http"),
        ("{.metadata.labels.app\\.io/tier}", GATEWAY, "edge"),
        ("{..port}", GATEWAY, "80 6443"),
        ("{$.metadata.name}", GATEWAY, "tls-passthrough-gateway"),
        ("{.metadata.*}", {"metadata": {"a": "1", "b": "2"}}, "1 2"),
        ("{.status.addresses}", GATEWAY, '[{"type":"IPAddress","value":"10.10.10.23"}]'),
        ("{.status.addresses[0]}", GATEWAY, '{"type":"IPAddress","value":"10.10.10.23"}'),
        ("{.status.conditions[0].observedGeneration}", GATEWAY, "2"),
        ("{.missing.deeper}", GATEWAY, ""),
        ("plain text", GATEWAY, "plain text"),
        ("{.a} {.b} {.c}", {"a": True, "b": None, "c": 1.5}, "true <nil> 1.5"),
        ("{'quoted \\t text'}", {}, "quoted \t text"),
        ("{range .items[*]}{end}done", {"items": []}, "done"),
    ],
)
def test_templates(template: str, data: object, expected: str) -> None:
    assert jsonpath(template, data) == expected


def test_missing_keys_can_be_errors() -> None:
    with pytest.raises(JSONPathError, match="missing is not found"):
        jsonpath("{.missing}", GATEWAY, allow_missing_keys=False)


@pytest.mark.parametrize(
    "template, message",
    [
        ("{.status", "unclosed action"),
        ("{end}", "not in range, nothing to end"),
        ("{.a[x]}", "invalid array index x"),
        ("{.a[1}", "unterminated array"),
        ("{.a[?(@.x==1]}", "unterminated filter"),
        ("{.a[?(@.x==1)}", "unclosed array expect \\]"),
        ("{.a..b..c}", ""),
        ("{....a}", "invalid multiple recursive descent"),
        ("{.a[?(@.x=~1)]}", "unrecognized filter operator"),
        ("{foo}", "unrecognized identifier foo"),
        ("{'abc}", "unclosed action"),
        ("{#}", "unrecognized character"),
    ],
)
def test_parse_errors(template: str, message: str) -> None:
    if not message:
        JSONPath(template)  # two separate recursive descents are fine
        return
    with pytest.raises(JSONPathError, match=message) as err:
        JSONPath(template)
    assert isinstance(err.value, LabError)


@pytest.mark.parametrize(
    "template, data, message",
    [
        ("{.a[0]}", {"a": {"b": 1}}, "is not array or slice"),
        ("{.a[?(@.b==1)]}", {"a": {"b": 1}}, "cannot be filtered"),
        ("{.a[3]}", {"a": [1]}, "array index out of bounds: index 3, length 1"),
        ("{.a[?(@.b=='x')]}", {"a": [{"b": 1}]}, "incompatible types for comparison"),
        ("{.a[::0]}", {"a": [1]}, "step must be > 0"),
    ],
)
def test_execution_errors(template: str, data: object, message: str) -> None:
    with pytest.raises(JSONPathError, match=message):
        jsonpath(template, data)


def test_find_groups_results_per_expression() -> None:
    assert JSONPath("{.items[*].metadata.name}-{.kind}").find(LIST) == [["a", "b"], ["-"], ["List"]]


def test_printing_like_go() -> None:
    assert go_json({"b": 1, "a": ["<x>", "&"]}) == '{"a":["\\u003cx\\u003e","\\u0026"],"b":1}'
    assert format_value(False) == "false"
    assert format_value(7) == "7"
    assert [go_float(v) for v in (1.5, 100000.0, 1e6, 0.0001, 1e-05, -2.0)] == [
        "1.5", "100000", "1e+06", "0.0001", "1e-05", "-2",
    ]  # fmt: skip
