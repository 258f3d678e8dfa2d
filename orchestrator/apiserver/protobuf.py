"""Kubernetes' protobuf bodies, for the few kinds kubectl's typed clients send that way
(`kubectl create secret|configmap|namespace|deployment|service`): the `k8s\\0` envelope
(runtime.Unknown) and the field numbers of those kinds' generated.proto (the fields those commands
set). Anything else is refused as UnsupportedMediaType.

A type ending in `?` is a Go pointer (kept when zero); the others follow JSON's omitempty (gogo
protobuf writes non-pointer scalars even when zero)."""

from __future__ import annotations

import base64
from typing import Any

from orchestrator.apiserver import errors

MAGIC = b"k8s\x00"
Spec = dict[int, tuple[str, str]]
META: Spec = {1: ("name", "s"), 2: ("generateName", "s"), 3: ("namespace", "s"), 5: ("uid", "s"),
              6: ("resourceVersion", "s"), 7: ("generation", "i"), 11: ("labels", "map"),
              12: ("annotations", "map"), 13: ("ownerReferences", "rep:OwnerReference"), 14: ("finalizers", "reps")}
MESSAGES: dict[str, Spec] = {
    "ObjectMeta": META,
    "OwnerReference": {1: ("kind", "s"), 3: ("name", "s"), 4: ("uid", "s"), 5: ("apiVersion", "s"),
                       6: ("controller", "b"), 7: ("blockOwnerDeletion", "b")},
    "Secret": {1: ("metadata", "msg:ObjectMeta"), 2: ("data", "mapb"), 3: ("type", "s"), 4: ("stringData", "map"),
               5: ("immutable", "b")},
    "ConfigMap": {1: ("metadata", "msg:ObjectMeta"), 2: ("data", "map"), 3: ("binaryData", "mapb"),
                  4: ("immutable", "b")},
    "Namespace": {1: ("metadata", "msg:ObjectMeta"), 2: ("spec", "msg:NamespaceSpec"),
                  3: ("status", "msg:NamespaceStatus")},
    "NamespaceSpec": {1: ("finalizers", "reps")},
    "NamespaceStatus": {1: ("phase", "s")},
    "Deployment": {1: ("metadata", "msg:ObjectMeta"), 2: ("spec", "msg:DeploymentSpec")},
    "DeploymentSpec": {1: ("replicas", "i?"), 2: ("selector", "msg:LabelSelector"),
                       3: ("template", "msg:PodTemplateSpec"), 4: ("strategy", "msg:DeploymentStrategy"),
                       5: ("minReadySeconds", "i"), 6: ("revisionHistoryLimit", "i?"), 7: ("paused", "b"),
                       9: ("progressDeadlineSeconds", "i?")},
    "DeploymentStrategy": {1: ("type", "s"), 2: ("rollingUpdate", "msg:RollingUpdateDeployment")},
    "RollingUpdateDeployment": {1: ("maxUnavailable", "msg:IntOrString"), 2: ("maxSurge", "msg:IntOrString")},
    "LabelSelector": {1: ("matchLabels", "map"), 2: ("matchExpressions", "rep:LabelSelectorRequirement")},
    "LabelSelectorRequirement": {1: ("key", "s"), 2: ("operator", "s"), 3: ("values", "reps")},
    "PodTemplateSpec": {1: ("metadata", "msg:ObjectMeta"), 2: ("spec", "msg:PodSpec")},
    "PodSpec": {2: ("containers", "rep:Container"), 3: ("restartPolicy", "s"),
                4: ("terminationGracePeriodSeconds", "i?"), 6: ("dnsPolicy", "s"), 7: ("nodeSelector", "map"),
                8: ("serviceAccountName", "s"), 10: ("nodeName", "s"), 11: ("hostNetwork", "b"),
                19: ("schedulerName", "s"), 20: ("initContainers", "rep:Container"),
                30: ("enableServiceLinks", "b?")},
    "Container": {1: ("name", "s"), 2: ("image", "s"), 3: ("command", "reps"), 4: ("args", "reps"),
                  5: ("workingDir", "s"), 6: ("ports", "rep:ContainerPort"), 7: ("env", "rep:EnvVar"),
                  8: ("resources", "msg:ResourceRequirements"), 13: ("terminationMessagePath", "s"),
                  14: ("imagePullPolicy", "s"), 20: ("terminationMessagePolicy", "s")},
    "ContainerPort": {1: ("name", "s"), 2: ("hostPort", "i"), 3: ("containerPort", "i"), 4: ("protocol", "s"),
                      5: ("hostIP", "s")},
    "EnvVar": {1: ("name", "s"), 2: ("value", "s")},
    "ResourceRequirements": {1: ("limits", "mapq"), 2: ("requests", "mapq")},
    "Service": {1: ("metadata", "msg:ObjectMeta"), 2: ("spec", "msg:ServiceSpec")},
    "ServiceSpec": {1: ("ports", "rep:ServicePort"), 2: ("selector", "map"), 3: ("clusterIP", "s"),
                    4: ("type", "s"), 5: ("externalIPs", "reps"), 7: ("sessionAffinity", "s"),
                    8: ("loadBalancerIP", "s"), 10: ("externalName", "s"), 11: ("externalTrafficPolicy", "s"),
                    19: ("clusterIPs", "reps"), 20: ("ipFamilies", "reps"),
                    21: ("allocateLoadBalancerNodePorts", "b?"), 23: ("internalTrafficPolicy", "s?"),
                    24: ("ipFamilyPolicy", "s?")},
    "ServicePort": {1: ("name", "s"), 2: ("protocol", "s"), 3: ("port", "i"), 4: ("targetPort", "msg:IntOrString"),
                    5: ("nodePort", "i"), 6: ("appProtocol", "s?")},
}
KINDS = ("Secret", "ConfigMap", "Namespace", "Service")
APPS_KINDS = ("Deployment",)


class _Bad(Exception):
    pass


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise _Bad("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, value))
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise _Bad("truncated field")
            out.append((number, data[pos:pos + length]))
            pos += length
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise _Bad(f"wire type {wire}")
    return out


def _message(data: bytes, name: str) -> dict[str, Any]:
    spec = MESSAGES[name]
    out: dict[str, Any] = {}
    for number, value in _fields(data):
        if number not in spec:
            continue
        field, kind = spec[number]
        pointer = kind.endswith("?")
        kind = kind.rstrip("?")
        if kind == "s" and isinstance(value, bytes):
            if value or pointer:
                out[field] = value.decode("utf-8")
        elif kind in ("i", "b") and isinstance(value, int):
            if value or pointer:
                out[field] = bool(value) if kind == "b" else _signed(value)
        elif kind == "msg:IntOrString" and isinstance(value, bytes):
            parts = dict(_fields(value))
            text = parts.get(3, b"")
            number_value = parts.get(2, 0)
            out[field] = (text.decode("utf-8") if isinstance(text, bytes) else "") if parts.get(1) == 1 else (
                _signed(number_value) if isinstance(number_value, int) else 0)
        elif kind in ("map", "mapb", "mapq") and isinstance(value, bytes):
            entry = dict(_fields(value))
            k, v = entry.get(1, b""), entry.get(2, b"")
            if kind == "mapq" and isinstance(v, bytes):  # a Quantity message: its string is field 1
                v = dict(_fields(v)).get(1, b"")
            if isinstance(k, bytes) and isinstance(v, bytes):
                out.setdefault(field, {})[k.decode("utf-8")] = (
                    base64.b64encode(v).decode("ascii") if kind == "mapb" else v.decode("utf-8"))
        elif kind == "reps" and isinstance(value, bytes):
            out.setdefault(field, []).append(value.decode("utf-8"))
        elif kind.startswith("rep:") and isinstance(value, bytes):
            out.setdefault(field, []).append(_message(value, kind[4:]))
        elif kind.startswith("msg:") and isinstance(value, bytes):
            out[field] = _message(value, kind[4:])
    if name == "ObjectMeta" and not out.get("generation"):
        out.pop("generation", None)
    return out


def _signed(value: int) -> int:
    """A varint holding a negative int32/int64 (two's complement over 64 bits)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def decode(body: bytes) -> dict[str, Any]:
    """A protobuf request body as the JSON object it stands for."""
    if not body.startswith(MAGIC):
        raise errors.bad_request("a protobuf body must start with the k8s\\0 envelope")
    try:
        unknown = dict(_fields(body[len(MAGIC):]))
        type_meta = unknown.get(1, b"")
        raw = unknown.get(2, b"")
        assert isinstance(type_meta, bytes) and isinstance(raw, bytes)
        tm = {n: v.decode() for n, v in _fields(type_meta) if isinstance(v, bytes)}
        api_version, kind = tm.get(1, ""), tm.get(2, "")
        if not ((api_version == "v1" and kind in KINDS) or (api_version == "apps/v1" and kind in APPS_KINDS)):
            raise errors.ApiError(415, "UnsupportedMediaType", f"the lab's API server reads protobuf bodies only "
                                  f"for v1 Secret, ConfigMap, Namespace, Service and apps/v1 Deployment, not "
                                  f"{api_version} {kind}: send JSON")
        obj = _message(raw, kind)
    except (_Bad, UnicodeDecodeError, AssertionError) as exc:
        raise errors.bad_request(f"the protobuf body could not be decoded: {exc}") from None
    return {"apiVersion": api_version, "kind": kind, **obj}
