"""topology.clab.yml: strict load into dataclasses, then the semantic checks both engines need.

The file is a real containerlab topology; the netns engine reads the same nodes and links:
one `linux` bastion, one `k8s-kind` cluster whose nodes are `ext-container` nodes named the way
kind names them (`<cluster>-control-plane`, `<cluster>-worker`, `<cluster>-worker2`, ...), and one
`bridge` node standing for the shared segment. Every problem is collected before one error is raised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from typing import Any

import yaml

from orchestrator.errors import LabError, Problem, ValidationFailed
from orchestrator import safeyaml

SUPPORTED_KINDS = ("linux", "k8s-kind", "ext-container", "bridge")
from orchestrator.rundir import LAB_NAME  # noqa: E402
KIND_NODE = re.compile(r"^(?P<cluster>.+)-(?P<role>control-plane|worker)(?P<index>[0-9]*)$")
IFNAME = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
DEFAULT_ASN = 64512
DEFAULT_PATH = Path(__file__).resolve().parent.parent / "topology.clab.yml"


@dataclass(frozen=True)
class LabNode:
    """A router of the lab: the bastion or one Kubernetes node."""

    name: str  # the topology's node name, e.g. calico-worker
    role: str  # "bastion" | "control-plane" | "worker"
    bgp_name: str  # the bastion's protocol name for it: control1, worker1, ... ("" for the bastion)
    interface: str  # its interface on the segment, e.g. eth1
    address: IPv4Interface
    bridge_port: str  # the name of the link's other end, on the segment's bridge
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def ip(self) -> IPv4Address:
        return self.address.ip


@dataclass(frozen=True)
class Topology:
    name: str
    path: Path
    cluster: str  # the kind cluster's name
    kind_config: str  # startup-config of the k8s-kind node, relative to the topology file
    bridge: str
    asn: int
    bastion: LabNode
    k8s_nodes: tuple[LabNode, ...]
    notes: tuple[str, ...] = ()  # what the user should know but that stops nothing (shown by `up`)

    @property
    def segment(self) -> IPv4Network:
        return self.bastion.address.network

    @property
    def routers(self) -> tuple[LabNode, ...]:
        return (self.bastion, *self.k8s_nodes)

    def node(self, name: str) -> LabNode:
        """A node by its topology name or its BGP alias (control1, worker1, ...)."""
        for node in self.routers:
            if name in (node.name, node.bgp_name):
                return node
        known = ", ".join(n.name + (f" ({n.bgp_name})" if n.bgp_name else "") for n in self.routers)
        raise LabError(f"no node {name!r} in lab {self.name!r}; nodes are: {known}")

    def with_name(self, name: str) -> Topology:
        problems = _check_lab_name(name, str(self.path), "--name")
        if problems:
            raise ValidationFailed(problems)
        return Topology(name, self.path, self.cluster, self.kind_config, self.bridge, self.asn,
                        self.bastion, self.k8s_nodes, self.notes)


def _check_lab_name(name: object, file: str, fieldname: str) -> list[Problem]:
    if not isinstance(name, str) or not LAB_NAME.match(name):
        return [Problem(file, fieldname, f"lab name {name!r} is not usable for namespace names",
                        "use 1-24 lowercase letters, digits and '-', starting and ending with a "
                        "letter or digit")]
    return []


def _bgp_name(role: str, index: str) -> str:
    """kind's node names -> the workshop's protocol names: control-plane -> control1, worker2 -> worker2."""
    number = int(index) if index else 1
    return f"control{number}" if role == "control-plane" else f"worker{number}"


def load_named(path: Path | str | None, name: str | None) -> Topology:
    """The topology at `path` (default: the project's), renamed to lab `name` when one is given."""
    topo = load(path or DEFAULT_PATH)
    return topo.with_name(name) if name else topo


class _StrictLoader(safeyaml.NoAliasLoader):
    """YAML's safe loader (no anchors or aliases: safeyaml) that records a key given twice in one mapping (YAML would silently keep
    the last one: a second `calico-worker:` would replace the first node)."""

    duplicates: list[tuple[int, int, str]]

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)):
                continue  # an unhashable key: the constructor below reports it
            line = key_node.start_mark.line + 1
            if key in seen:
                self.duplicates.append((line, seen[key], str(key)))
            else:
                seen[key] = line
        return super().construct_mapping(node, deep)


def _text(path: Path, file: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValidationFailed([Problem(file, "(file)", f"cannot read it: {exc.strerror}",
                                        "give the path of a topology.clab.yml with -t")]) from exc
    bad = data.find(b"\0")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = exc.start if bad < 0 else min(bad, exc.start)
    if bad >= 0:
        line = data.count(b"\n", 0, bad) + 1
        raise ValidationFailed([Problem(file, f"line {line}", f"not a text file (byte 0x{data[bad]:02x} at offset "
                                        f"{bad})", "give a topology.clab.yml: YAML text in UTF-8")])
    return text


def load(path: Path | str) -> Topology:
    path = Path(path)
    file = str(path)
    text = _text(path, file)
    try:
        loader = _StrictLoader(text)
        loader.duplicates = []
        try:
            raw = loader.get_single_data()
        finally:
            loader.dispose()
        if loader.duplicates:
            raise ValidationFailed([Problem(file, f"line {line}", f"key {key!r} given again (first at line {first})",
                                            "remove or rename one of them: YAML would keep only the last")
                                    for line, first, key in loader.duplicates])
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(yaml)"
        raise ValidationFailed([Problem(file, where, f"not valid YAML: {getattr(exc, 'problem', exc)}",
                                        "fix the YAML syntax")]) from exc
    return parse(raw, path)


def parse(raw: Any, path: Path) -> Topology:
    file = str(path)
    problems: list[Problem] = []
    if not isinstance(raw, dict):
        raise ValidationFailed([Problem(file, "(top level)", "expected a mapping with name and topology",
                                        "start from the project's topology.clab.yml")])
    name = raw.get("name")
    problems += _check_lab_name(name, file, "name")
    topo = raw.get("topology")
    if not isinstance(topo, dict):
        raise ValidationFailed(problems + [Problem(file, "topology", "missing or not a mapping",
                                                   "add a topology: section with nodes and links")])
    nodes = topo.get("nodes")
    links = topo.get("links")
    if not isinstance(nodes, dict) or not nodes:
        problems.append(Problem(file, "topology.nodes", "missing or empty", "declare the lab's nodes"))
        nodes = {}
    if not isinstance(links, list) or not links:
        problems.append(Problem(file, "topology.links", "missing or empty",
                                "link every node to the bridge node"))
        links = []

    kinds: dict[str, str] = {}
    labels: dict[str, dict[str, str]] = {}
    cluster = ""
    kind_config = ""
    notes: list[str] = []
    for node_name, spec in nodes.items():
        where = f"topology.nodes.{node_name}"
        spec = spec or {}
        if not isinstance(spec, dict):
            problems.append(Problem(file, where, "must be a mapping", "give at least its kind"))
            continue
        kind = spec.get("kind", (topo.get("defaults") or {}).get("kind"))
        if kind not in SUPPORTED_KINDS:
            problems.append(Problem(file, f"{where}.kind", f"kind {kind!r} is not supported by gwlab",
                                    f"use one of {', '.join(SUPPORTED_KINDS)}"))
            continue
        kinds[node_name] = kind
        raw_labels = spec.get("labels") or {}
        labels[node_name] = {str(k): str(v) for k, v in raw_labels.items()} if isinstance(raw_labels, dict) else {}
        if kind == "k8s-kind":
            if cluster:
                problems.append(Problem(file, where, "a second k8s-kind cluster",
                                        "gwlab models one cluster: keep one k8s-kind node"))
            cluster = str(node_name)
            kind_config = str(spec.get("startup-config") or "")
            if not kind_config:
                problems.append(Problem(file, f"{where}.startup-config", "missing",
                                        "point it at the kind cluster config, lab/kind-cluster.yaml"))
            elif not (path.parent / kind_config).is_file():
                # Only the containerlab engine reads it (its preflight refuses it missing).
                notes.append(f"note: {file}: {where}.startup-config: {kind_config} does not exist next to the "
                             "topology; the netns engine does not need it (kind's default service range "
                             "10.96.0.0/16 is used), the containerlab engine does")

    bastions = [n for n, k in kinds.items() if k == "linux"]
    bridges = [n for n, k in kinds.items() if k == "bridge"]
    ext = [n for n, k in kinds.items() if k == "ext-container"]
    if len(bastions) != 1:
        problems.append(Problem(file, "topology.nodes", f"{len(bastions)} nodes of kind linux",
                                "declare exactly one bastion (kind: linux)"))
    if len(bridges) != 1:
        problems.append(Problem(file, "topology.nodes", f"{len(bridges)} nodes of kind bridge",
                                "declare exactly one bridge for the nodes' segment"))
    elif not IFNAME.match(bridges[0]):
        problems.append(Problem(file, f"topology.nodes.{bridges[0]}", "a bridge name is an interface name",
                                "use at most 15 letters, digits, '-', '_' or '.'"))
    if not cluster:
        problems.append(Problem(file, "topology.nodes", "no k8s-kind node",
                                "declare the kind cluster (kind: k8s-kind) and its nodes"))
    roles: dict[str, tuple[str, str]] = {}
    for n in ext:
        m = KIND_NODE.match(n)
        if not m or m.group("cluster") != cluster or m.group("index") in ("0", "1"):
            problems.append(Problem(file, f"topology.nodes.{n}", "not a node name of the kind cluster",
                                    f"name it as kind does: {cluster or '<cluster>'}-control-plane, "
                                    f"{cluster or '<cluster>'}-worker, {cluster or '<cluster>'}-worker2, ..."))
            continue
        roles[n] = (m.group("role"), _bgp_name(m.group("role"), m.group("index")))
    if cluster and not ext:
        problems.append(Problem(file, "topology.nodes", f"the cluster {cluster!r} has no ext-container nodes",
                                f"add {cluster}-control-plane and its workers"))

    attach: dict[str, tuple[str, IPv4Interface | None, str]] = {}
    bridge = bridges[0] if len(bridges) == 1 else _common_end(links)
    for i, link in enumerate(links):
        where = f"topology.links[{i}]"
        ends = _endpoints(link, where, file, problems)
        if ends is None:
            continue
        (a_node, a_if, a_ip), (b_node, b_if, b_ip) = ends
        for end_node in (a_node, b_node):
            if end_node not in nodes:
                problems.append(Problem(file, f"{where}.endpoints", f"unknown node {end_node!r}",
                                        "use a node declared under topology.nodes"))
        if a_node not in nodes or b_node not in nodes or not bridge:
            continue
        if b_node != bridge:
            (a_node, a_if, a_ip), (b_node, b_if, b_ip) = (b_node, b_if, b_ip), (a_node, a_if, a_ip)
        if b_node != bridge:
            problems.append(Problem(file, f"{where}.endpoints", "the netns engine needs every link on the bridge",
                                    f"connect {a_node} to {bridge or 'the bridge node'}"))
            continue
        if not IFNAME.match(b_if) or not IFNAME.match(a_if):
            problems.append(Problem(file, f"{where}.endpoints", "interface names are at most 15 characters",
                                    "shorten the interface name"))
        if a_node in attach:
            problems.append(Problem(file, f"{where}.endpoints", f"{a_node} has a second link to the bridge",
                                    "keep one link per node"))
        if a_ip is None:
            problems.append(Problem(file, f"{where}.endpoints", f"{a_node}:{a_if} has no ipv4 address",
                                    "add ipv4: 10.0.1.N/24 to the node's endpoint"))
        attach[a_node] = (a_if, a_ip, b_if)

    lab_nodes: dict[str, LabNode] = {}
    for n in bastions + ext:
        if n not in attach and bridge:
            problems.append(Problem(file, f"topology.nodes.{n}", "not linked to the bridge",
                                    f"add a link from {n}:eth1 to {bridge or 'the bridge'}"))
            continue
        iface, ip, port = attach[n]
        if ip is None or (n in ext and n not in roles):
            continue
        role, bgp = ("bastion", "") if n in bastions else roles[n]
        lab_nodes[n] = LabNode(n, role, bgp, iface, ip, port, labels.get(n, {}))

    seen: dict[IPv4Address, str] = {}
    networks = {node.address.network for node in lab_nodes.values()}
    if len(networks) > 1:
        problems.append(Problem(file, "topology.links", "the nodes' addresses are in different subnets: "
                                + ", ".join(sorted(str(x) for x in networks)),
                                "put every node on the one segment, e.g. 10.0.1.0/24"))
    for node in lab_nodes.values():
        if node.ip in seen:
            problems.append(Problem(file, "topology.links", f"{node.name} and {seen[node.ip]} share {node.ip}",
                                    "give every node its own address"))
        seen[node.ip] = node.name
        if node.ip in (node.address.network.network_address, node.address.network.broadcast_address):
            problems.append(Problem(file, "topology.links", f"{node.name}: {node.address} is not a host address",
                                    "use a host address of the segment"))

    asn = DEFAULT_ASN
    if bastions:
        raw_asn = labels.get(bastions[0], {}).get("gwlab.bgp.asn", str(DEFAULT_ASN))
        if not raw_asn.isdigit() or not 1 <= int(raw_asn) <= 4294967294:
            problems.append(Problem(file, f"topology.nodes.{bastions[0]}.labels.gwlab.bgp.asn",
                                    f"{raw_asn!r} is not an AS number", "use e.g. \"64512\""))
        else:
            asn = int(raw_asn)
    if problems:
        raise ValidationFailed(problems)
    k8s = tuple(sorted((lab_nodes[n] for n in ext),
                       key=lambda x: (x.role != "control-plane", int(re.sub(r"\D", "", x.bgp_name)))))
    return Topology(str(name), path, cluster, kind_config, bridge, asn, lab_nodes[bastions[0]], k8s, tuple(notes))


def _common_end(links: list[Any]) -> str:
    """With no usable bridge node, the node every link ends on stands in for it, so that the
    links and addresses are still checked (and reported) instead of every link failing."""
    common: set[str] | None = None
    for link in links:
        eps = link.get("endpoints") if isinstance(link, dict) else None
        names = {str(e.get("node")) if isinstance(e, dict) else str(e).split(":", 1)[0] for e in eps or []}
        common = names if common is None else common & names
    return next(iter(common)) if common and len(common) == 1 else ""


def _endpoints(link: Any, where: str, file: str, problems: list[Problem]
               ) -> tuple[tuple[str, str, IPv4Interface | None], tuple[str, str, IPv4Interface | None]] | None:
    """Both link formats: short (`endpoints: ["a:eth1", "b:eth2"]`, `ipv4: [...]`) and veth (objects)."""
    if not isinstance(link, dict) or not isinstance(link.get("endpoints"), list) or len(link["endpoints"]) != 2:
        problems.append(Problem(file, where, "a link needs two endpoints", "see containerlab's link formats"))
        return None
    if link.get("type", "veth") != "veth":
        problems.append(Problem(file, f"{where}.type", f"link type {link.get('type')!r} is not supported",
                                "use veth links"))
        return None
    ends: list[tuple[str, str, IPv4Interface | None]] = []
    short_ips = link.get("ipv4") or []
    for j, ep in enumerate(link["endpoints"]):
        ip_text: Any
        if isinstance(ep, str) and ":" in ep:
            node, iface = ep.split(":", 1)
            ip_text = short_ips[j] if j < len(short_ips) else None
        elif isinstance(ep, dict) and "node" in ep and "interface" in ep:
            node, iface, ip_text = str(ep["node"]), str(ep["interface"]), ep.get("ipv4")
        else:
            problems.append(Problem(file, f"{where}.endpoints[{j}]", f"cannot read endpoint {ep!r}",
                                    "write node:interface, or {node: ..., interface: ..., ipv4: ...}"))
            return None
        ip: IPv4Interface | None = None
        if ip_text:
            try:
                ip = IPv4Interface(str(ip_text))
            except ValueError:
                problems.append(Problem(file, f"{where}.endpoints[{j}].ipv4", f"{ip_text!r} is not an IPv4 prefix",
                                        "write it as 10.0.1.N/24"))
                return None
            if ip.network.prefixlen == 32:
                problems.append(Problem(file, f"{where}.endpoints[{j}].ipv4", f"{ip_text} has no subnet",
                                        "write it with the segment's prefix length, e.g. 10.0.1.N/24"))
        ends.append((node, iface, ip))
    return ends[0], ends[1]
