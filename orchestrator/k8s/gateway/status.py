"""The statuses the Gateway API controller writes (conditions, per listener, per route parent), the
keys objects are known by, and the clock that keeps a condition's lastTransitionTime while it holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Mapping, NamedTuple

from orchestrator.k8s.gateway.types import (
    Gateway,
    GatewayClass,
    ParentReference,
    ReferenceGrant,
    RouteGroupKind,
    TCPRoute,
    TLSRoute,
)

CONTROLLER_NAME = "gateway.envoyproxy.io/gatewayclass-controller"
PENDING_TIME = "1970-01-01T00:00:00Z"  # the CRD's default status, before any controller writes

Status = Literal["True", "False", "Unknown"]


class ObjKey(NamedTuple):
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


def key_of(obj: Gateway | TLSRoute | TCPRoute | GatewayClass | ReferenceGrant) -> ObjKey:
    return ObjKey(obj.metadata.namespace, obj.metadata.name)


@dataclass(frozen=True)
class ServiceInfo:
    """What the controller needs to know of a Service: its TCP ports."""

    namespace: str
    name: str
    ports: tuple[int, ...]


# ---- status ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    type: str
    status: Status
    reason: str
    message: str
    last_transition_time: str
    observed_generation: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"lastTransitionTime": self.last_transition_time, "message": self.message}
        if self.observed_generation is not None:
            out["observedGeneration"] = self.observed_generation
        out.update(reason=self.reason, status=self.status, type=self.type)
        return out


@dataclass(frozen=True)
class ListenerStatus:
    name: str
    supported_kinds: tuple[RouteGroupKind, ...]
    attached_routes: int
    conditions: tuple[Condition, ...]

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "attachedRoutes": self.attached_routes,
            "conditions": [c.to_dict() for c in self.conditions],
            "name": self.name,
            "supportedKinds": [{"group": k.group, "kind": k.kind} for k in self.supported_kinds],
        }


@dataclass(frozen=True)
class GatewayStatus:
    conditions: tuple[Condition, ...]
    addresses: tuple[str, ...] = ()
    listeners: tuple[ListenerStatus, ...] = ()

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)

    def listener(self, name: str) -> ListenerStatus | None:
        return next((lst for lst in self.listeners if lst.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.addresses:
            out["addresses"] = [{"type": "IPAddress", "value": a} for a in self.addresses]
        out["conditions"] = [c.to_dict() for c in self.conditions]
        if self.listeners:
            out["listeners"] = [lst.to_dict() for lst in self.listeners]
        return out


@dataclass(frozen=True)
class RouteParentStatus:
    parent_ref: ParentReference
    controller_name: str
    conditions: tuple[Condition, ...]

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "conditions": [c.to_dict() for c in self.conditions],
            "controllerName": self.controller_name,
            "parentRef": self.parent_ref.to_dict(),
        }


@dataclass(frozen=True)
class TLSRouteStatus:
    parents: tuple[RouteParentStatus, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"parents": [p.to_dict() for p in self.parents]}


@dataclass(frozen=True)
class GatewayClassStatus:
    conditions: tuple[Condition, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"conditions": [c.to_dict() for c in self.conditions]}



class Clock:
    """Condition timestamps: `now` for a change, the previous time when the status is unchanged."""

    def __init__(self, now: str, previous: Mapping[str, Condition]):
        self.now, self.previous = now, previous

    def condition(
        self, scope: str, type_: str, value: tuple[Status, str, str], generation: int | None
    ) -> Condition:
        status, reason, message = value
        before = self.previous.get(f"{scope}|{type_}")
        when = before.last_transition_time if before is not None and before.status == status else self.now
        return Condition(type_, status, reason, message, when, generation)

