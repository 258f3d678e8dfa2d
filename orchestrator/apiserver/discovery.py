"""Discovery documents: /api, /apis, /api/v1, /apis/G/V (legacy), the aggregated lists (v2) when a
client asks for them, and /version."""

from __future__ import annotations

from typing import Any

from orchestrator.apiserver.registry import Resource, group_versions, resources_of

Obj = dict[str, Any]
KUBE_VERSION = "v1.37.1"
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def version() -> Obj:
    return {"major": "1", "minor": "37", "emulationMajor": "1", "emulationMinor": "37",
            "minCompatibilityMajor": "1", "minCompatibilityMinor": "36", "gitVersion": KUBE_VERSION,
            "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
            "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.25.0", "compiler": "gc",
            "platform": "linux/amd64"}


def api_versions(server_address: str) -> Obj:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _groups() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for group, ver in group_versions():
        if group:
            out.setdefault(group, []).append(ver)
    return out


def api_group_list() -> Obj:
    groups = []
    for group, versions in _groups().items():
        vs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        groups.append({"name": group, "versions": vs, "preferredVersion": vs[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _resource_entries(r: Resource) -> list[Obj]:
    main: Obj = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind,
                 "verbs": list(r.verbs)}
    if r.short_names:
        main["shortNames"] = list(r.short_names)
    if r.categories:
        main["categories"] = list(r.categories)
    out = [main]
    for sub in r.subresources:
        entry: Obj = {"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced,
                      "kind": r.kind, "verbs": ["get", "patch", "update"]}
        if sub == "scale":
            entry.update(kind="Scale", group="autoscaling", version="v1")
        elif sub in ("exec", "portforward"):
            entry.update(kind="PodExecOptions" if sub == "exec" else "PodPortForwardOptions",
                         verbs=["create", "get"])
        elif sub == "log":
            entry.update(kind="Pod", verbs=["get"])
        elif sub == "finalize":
            entry.update(verbs=["update"])
        out.append(entry)
    return out


def api_resource_list(group: str, ver: str) -> Obj:
    gv = f"{group}/{ver}" if group else ver
    resources = [e for r in resources_of(group, ver) for e in _resource_entries(r)]
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}


def _aggregated_version(group: str, ver: str) -> Obj:
    resources = []
    for r in resources_of(group, ver):
        entry: Obj = {"resource": r.plural, "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
                      "scope": "Namespaced" if r.namespaced else "Cluster", "singularResource": r.singular,
                      "verbs": list(r.verbs)}
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        subs = []
        for sub in _resource_entries(r)[1:]:
            kind = {"group": sub.get("group", r.group), "version": sub.get("version", r.version), "kind": sub["kind"]}
            subs.append({"subresource": sub["name"].split("/", 1)[1], "responseKind": kind, "verbs": sub["verbs"]})
        if subs:
            entry["subresources"] = subs
        resources.append(entry)
    return {"version": ver, "resources": resources, "freshness": "Current"}


def aggregated(core: bool) -> Obj:
    items = []
    if core:
        items.append({"metadata": {"creationTimestamp": None}, "versions": [_aggregated_version("", "v1")]})
    else:
        for group, versions in _groups().items():
            items.append({"metadata": {"name": group, "creationTimestamp": None},
                          "versions": [_aggregated_version(group, v) for v in versions]})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {}, "items": items}
