"""Request bodies: JSON, or YAML without anchors and aliases (refused at once, before any expansion),
at most 3 MiB as kube-apiserver allows."""

from __future__ import annotations

import json
from typing import Any

import yaml

from orchestrator.apiserver import errors, protobuf

MAX_BODY = 3 * 1024 * 1024


class _JSONishLoader(yaml.SafeLoader):
    """YAML as sigs.k8s.io/yaml reads it: timestamps stay strings."""


_JSONishLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(text: str) -> Any:
    """One YAML document; anchors and aliases refused before anything is built from them."""
    for event in yaml.parse(text, Loader=_JSONishLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise errors.bad_request("YAML anchors and aliases are not accepted in a request body "
                                     "(they can expand without bound); write the values out")
    return yaml.load(text, Loader=_JSONishLoader)  # noqa: S506 - a SafeLoader subclass


def decode_body(body: bytes, headers: dict[str, str]) -> Any:
    if len(body) > MAX_BODY:
        raise errors.too_large()
    ctype = headers.get("content-type", "application/json").split(";")[0].strip()
    text = body.decode("utf-8", "replace")
    if ctype in ("application/json", ""):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise errors.bad_request(f"the body of the request could not be decoded as JSON: {exc}") from None
    if ctype in ("application/yaml", "application/x-yaml", "text/yaml"):
        try:
            return load_yaml(text)
        except yaml.YAMLError as exc:
            raise errors.bad_request(f"the body of the request could not be decoded as YAML: {exc}") from None
    if ctype == "application/vnd.kubernetes.protobuf":
        return protobuf.decode(body)
    raise errors.unsupported_media(ctype)
