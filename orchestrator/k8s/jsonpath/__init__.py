"""kubectl's JSONPath templates (`-o jsonpath=...`) over plain JSON data.

Mirrors k8s.io/client-go/util/jsonpath as kubectl uses it: missing keys print nothing (kubectl's
--allow-missing-template-keys=true), an index past the end of an array is an error, several
results of one expression are joined by spaces, maps and lists print as compact JSON.
Map wildcards and `..` walk keys in document order (Go's order is random).
The package's names are its modules' (nodes, parser, evaluate, printing), gathered here for its users.
"""

from orchestrator.k8s.jsonpath.evaluate import JSONPath, JSONPathError, jsonpath
from orchestrator.k8s.jsonpath.printing import format_value, go_float, go_json

__all__ = ["JSONPath", "JSONPathError", "format_value", "go_float", "go_json", "jsonpath"]
