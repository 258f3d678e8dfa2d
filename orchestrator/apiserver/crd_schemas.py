"""OpenAPI v3 schemas of the custom resources, as their CRDs define them (the fields the lab uses and
their neighbours; an open object is marked x-kubernetes-preserve-unknown-fields, as in the CRDs)."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

S: Schema = {"type": "string"}
I: Schema = {"type": "integer"}
B: Schema = {"type": "boolean"}
OPEN: Schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
STR_MAP: Schema = {"type": "object", "additionalProperties": {"type": "string"}}


def obj(required: tuple[str, ...] = (), **props: Schema) -> Schema:
    out: Schema = {"type": "object", "properties": props}
    if required:
        out["required"] = list(required)
    return out


def props(fields: dict[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    """obj() for field names that are Python keywords (from, to)."""
    return obj(required, **fields)


def arr(items: Schema, map_keys: tuple[str, ...] = ()) -> Schema:
    out: Schema = {"type": "array", "items": items}
    if map_keys:
        out["x-kubernetes-list-type"] = "map"
        out["x-kubernetes-list-map-keys"] = list(map_keys)
    return out


def default(schema: Schema, value: Any) -> Schema:
    return {**schema, "default": value}


CONDITION = obj(("type", "status"), type=S, status=S, reason=S, message=S, observedGeneration=I,
                lastTransitionTime={"type": "string", "format": "date-time"})
CONDITIONS = arr(CONDITION, ("type",))
GROUP_KIND = obj(("kind",), group=S, kind=S)
PARENT_REF = obj(("name",), group=default(S, "gateway.networking.k8s.io"), kind=default(S, "Gateway"), namespace=S,
                 name=S, sectionName=S, port=I)
BACKEND_REF = obj(("name",), group=default(S, ""), kind=default(S, "Service"), name=S, namespace=S, port=I,
                  weight=default(I, 1))
SECRET_REF = obj(("name",), group=S, kind=S, name=S, namespace=S)
SELECTOR = obj(matchLabels=STR_MAP, matchExpressions=arr(obj(("key", "operator"), key=S, operator=S,
                                                             values=arr(S))))

LISTENER = obj(
    ("name", "port", "protocol"), name=S, hostname=S, port=I, protocol=S,
    tls=obj(mode=default(S, "Terminate"), certificateRefs=arr(SECRET_REF), options=STR_MAP,
            frontendValidation=OPEN),
    allowedRoutes=default(obj(namespaces=default(props({"from": default(S, "Same"), "selector": SELECTOR}),
                                                 {"from": "Same"}), kinds=arr(GROUP_KIND)),
                          {"namespaces": {"from": "Same"}}),
)
ROUTE_PARENT_STATUS = obj(("parentRef", "controllerName"), parentRef=PARENT_REF, controllerName=S,
                          conditions=CONDITIONS)
ROUTE_STATUS = obj(("parents",), parents=arr(ROUTE_PARENT_STATUS))

SPECS: dict[tuple[str, str], tuple[Schema, Schema | None]] = {
    ("GatewayClass", "v1"): (
        obj(("controllerName",), controllerName=S, description=S,
            parametersRef=obj(("group", "kind", "name"), group=S, kind=S, name=S, namespace=S)),
        obj(conditions=CONDITIONS, supportedFeatures=arr(obj(name=S)))),
    ("Gateway", "v1"): (
        obj(("gatewayClassName", "listeners"), gatewayClassName=S, listeners=arr(LISTENER, ("name",)),
            addresses=arr(obj(("value",), type=S, value=S)),
            infrastructure=obj(labels=STR_MAP, annotations=STR_MAP,
                               parametersRef=obj(("group", "kind", "name"), group=S, kind=S, name=S)),
            backendTLS=OPEN, allowedListeners=OPEN, tls=OPEN),
        obj(addresses=arr(obj(("value",), type=S, value=S)), conditions=CONDITIONS,
            listeners=arr(obj(("name", "attachedRoutes", "conditions", "supportedKinds"), name=S,
                              supportedKinds=arr(GROUP_KIND), attachedRoutes=I, conditions=CONDITIONS),
                          ("name",)))),
    ("TLSRoute", "v1alpha2"): (
        obj(("rules",), parentRefs=arr(PARENT_REF), hostnames=arr(S),
            rules=arr(obj(name=S, backendRefs=arr(BACKEND_REF)))),
        ROUTE_STATUS),
    ("TCPRoute", "v1alpha2"): (
        obj(("rules",), parentRefs=arr(PARENT_REF), rules=arr(obj(name=S, backendRefs=arr(BACKEND_REF)))),
        ROUTE_STATUS),
    ("ReferenceGrant", "v1beta1"): (
        props({"from": arr(obj(("group", "kind", "namespace"), group=S, kind=S, namespace=S)),
               "to": arr(obj(("group", "kind"), group=S, kind=S, name=S))}, ("from", "to")),
        None),
    ("IPPool", "v3"): (
        # the defaults Calico's API server fills in
        obj(("cidr",), cidr=S, vxlanMode=default(S, "Never"), ipipMode=default(S, "Never"), natOutgoing=B,
            disabled=B, disableBGPExport=B, nodeSelector=default(S, "all()"), namespaceSelector=S,
            blockSize=default(I, 26), allowedUses=default(arr(S), ["Workload", "Tunnel"]),
            assignmentMode=default(S, "Automatic"), ipip=OPEN, nat_outgoing=B),
        None),
    ("BGPConfiguration", "v3"): (
        obj(logSeverityScreen=S, nodeToNodeMeshEnabled=B, asNumber=I, listenPort=I, bindMode=S,
            nodeMeshMaxRestartTime=S, nodeMeshPassword=OPEN, ignoredInterfaces=arr(S),
            serviceLoadBalancerIPs=arr(obj(cidr=S)), serviceExternalIPs=arr(obj(cidr=S)),
            serviceClusterIPs=arr(obj(cidr=S)), communities=arr(obj(name=S, value=S)),
            prefixAdvertisements=arr(obj(cidr=S, communities=arr(S))),
            localWorkloadPeeringIPV4=S, localWorkloadPeeringIPV6=S, programClusterRoutes=S),
        None),
    ("BGPPeer", "v3"): (
        obj(node=S, peerIP=S, asNumber=I, nodeSelector=S, peerSelector=S, keepOriginalNextHop=B,
            password=OPEN, sourceAddress=S, maxRestartTime=S, numAllowedLocalASNumbers=I,
            filters=arr(S), reachableBy=S, ttlSecurity=I, nextHopMode=S, localWorkloadSelector=S,
            localASNumber=I),
        None),
    ("GatewayAPI", "v1"): (OPEN, OPEN),
    ("BackendTrafficPolicy", "v1alpha1"): (OPEN, OPEN),
}


def crd_schema(kind: str, version: str, api_version: str) -> Schema:
    spec, status = SPECS[(kind, version)]
    props: Schema = {
        "apiVersion": S, "kind": S,
        "metadata": {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
        "spec": spec,
    }
    if status is not None:
        props["status"] = status
    return {"type": "object", "properties": props}
