"""The Calico operator's Installation and APIServer (lab/calico-operator/) as strict typed models, and
their agreement with the rest of the lab: the topology's lab interface, the workshop's pod pool, kind's
pod subnet. Only the containerlab engine applies them, so they are not kinds `gwlab apply` accepts."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import yaml

from orchestrator.calico.models import IPPool
from orchestrator.engines.clab.names import OPERATOR_MANIFESTS
from orchestrator.errors import Problem, ValidationFailed
from orchestrator.k8s.reader import FieldReader
from orchestrator.manifests import Document, read_documents
from orchestrator.topology import Topology

GROUP = "operator.tigera.io"
META = ({"name", "labels", "annotations"}, {"uid", "resourceVersion", "creationTimestamp", "generation",
                                            "managedFields", "finalizers"})
AUTODETECT = {"interface", "cidrs", "firstFound", "canReach", "skipInterface", "kubernetes"}


@dataclass(frozen=True)
class OperatorPool:
    name: str
    cidr: IPv4Network
    block_size: int
    encapsulation: str
    nat_outgoing: bool
    node_selector: str


@dataclass(frozen=True)
class Installation:
    bgp: bool
    dataplane: str
    autodetect: dict[str, Any]  # the one method of nodeAddressAutodetectionV4
    pools: tuple[OperatorPool, ...]


@dataclass(frozen=True)
class OperatorConfig:
    installation: Installation
    apiserver: bool
    docs: list[Document]

    def yaml(self) -> str:
        return yaml.safe_dump_all([d.body for d in self.docs], sort_keys=False)


def _meta(doc: Document, r: FieldReader, name: str) -> None:
    r.section("metadata", doc.body.get("metadata"), *META)
    r.section("(top level)", {k: v for k, v in doc.body.items() if k not in ("apiVersion", "kind")},
              {"metadata", "spec"}, {"status"})
    if doc.name != name:
        r.problem("metadata.name", f"{doc.name!r}: the operator reconciles only {name!r}", f"name it {name}")


def _pool(r: FieldReader, path: str, raw: Any) -> OperatorPool | None:
    p = r.section(path, raw, {"name", "cidr", "blockSize", "encapsulation", "natOutgoing", "nodeSelector"},
                  {"disableBGPExport", "disableNewAllocations", "allowedUses", "assignmentMode"}, {"cidr"})
    try:
        cidr = IPv4Network(str(p.get("cidr", "")))
    except ValueError:
        r.problem(f"{path}.cidr", f"{p.get('cidr')!r} is not an IPv4 prefix", "write it like 10.50.0.0/24")
        return None
    encap = str(p.get("encapsulation", "IPIP"))
    if encap not in ("None", "IPIP", "VXLAN", "IPIPCrossSubnet", "VXLANCrossSubnet"):
        r.problem(f"{path}.encapsulation", f"{encap!r} is not an encapsulation", "use None, IPIP or VXLAN")
    nat = str(p.get("natOutgoing", "Enabled"))
    if nat not in ("Enabled", "Disabled"):
        r.problem(f"{path}.natOutgoing", f"{nat!r}", "use Enabled or Disabled")
    return OperatorPool(str(p.get("name", "")), cidr, int(r.typed(f"{path}.blockSize", p.get("blockSize"), int, 26)),
                        encap, nat == "Enabled", str(p.get("nodeSelector", "all()")))


def parse_installation(doc: Document, r: FieldReader) -> Installation:
    _meta(doc, r, "default")
    spec = r.section("spec", doc.body.get("spec"), {"calicoNetwork"},
                     {"variant", "registry", "imagePath", "imagePrefix", "imagePullSecrets", "kubernetesProvider",
                      "cni", "controlPlaneReplicas", "nodeUpdateStrategy", "flexVolumePath", "componentResources"},
                     {"calicoNetwork"})
    net = r.section("spec.calicoNetwork", spec.get("calicoNetwork"),
                    {"bgp", "linuxDataplane", "nodeAddressAutodetectionV4", "ipPools"},
                    {"mtu", "hostPorts", "multiInterfaceMode", "containerIPForwarding", "linuxPolicySetupTimeoutSeconds",
                     "bpfNetworkBootstrap", "kubeProxyManagement", "sysctl"}, {"bgp", "nodeAddressAutodetectionV4"})
    bgp = str(net.get("bgp", "Enabled"))
    if bgp not in ("Enabled", "Disabled"):
        r.problem("spec.calicoNetwork.bgp", f"{bgp!r}", "use Enabled")
    dataplane = str(net.get("linuxDataplane", "Iptables"))
    if dataplane not in ("Iptables", "BPF", "Nftables"):
        r.problem("spec.calicoNetwork.linuxDataplane", f"{dataplane!r} is not a data plane", "use Iptables")
    auto = r.section("spec.calicoNetwork.nodeAddressAutodetectionV4", net.get("nodeAddressAutodetectionV4"),
                     AUTODETECT, set())
    if len(auto) != 1:
        r.problem("spec.calicoNetwork.nodeAddressAutodetectionV4", f"{len(auto)} methods given",
                  "give exactly one, e.g. interface: eth1 (the topology's lab interface)")
    pools = [_pool(r, f"spec.calicoNetwork.ipPools[{i}]", p)
             for i, p in enumerate(r.typed("spec.calicoNetwork.ipPools", net.get("ipPools"), list, []))]
    return Installation(bgp == "Enabled", dataplane, dict(auto), tuple(p for p in pools if p is not None))


def parse_apiserver(doc: Document, r: FieldReader) -> bool:
    _meta(doc, r, "default")
    r.section("spec", doc.body.get("spec"), set(), {"apiServerDeployment", "logging"})
    return True


def parse_operator(docs: list[Document]) -> OperatorConfig:
    """Every problem of every document at once."""
    problems: list[Problem] = []
    installation: Installation | None = None
    apiserver = False
    for doc in docs:
        r = FieldReader(doc)
        if doc.api_version != f"{GROUP}/v1" or doc.kind not in ("Installation", "APIServer"):
            r.problem("kind", f"{doc.kind} ({doc.api_version}) is not an operator resource the engine applies",
                      "lab/calico-operator holds the Installation and the APIServer (operator.tigera.io/v1)")
        elif doc.kind == "Installation":
            installation = parse_installation(doc, r)
        else:
            apiserver = parse_apiserver(doc, r)
        problems += r.problems
    if installation is None:
        problems.append(Problem(str(OPERATOR_MANIFESTS), "Installation", "missing", "add the Installation 'default'"))
    if not apiserver:
        problems.append(Problem(str(OPERATOR_MANIFESTS), "APIServer", "missing",
                                "add the APIServer 'default' (projectcalico.org/v3 manifests need it)"))
    if problems or installation is None:
        raise ValidationFailed(problems)
    return OperatorConfig(installation, apiserver, docs)


def load_operator(path: Path = OPERATOR_MANIFESTS) -> OperatorConfig:
    return parse_operator(read_documents([path]))


def agreement_problems(config: OperatorConfig, topo: Topology, pools: list[IPPool]) -> list[Problem]:
    """What would make the real cluster differ from the lab the manifests and the topology describe."""
    where = str(OPERATOR_MANIFESTS / "10-installation.yaml")
    inst = config.installation
    out: list[Problem] = []
    if not inst.bgp:
        out.append(Problem(where, "spec.calicoNetwork.bgp", "BGP is off: the bastion would have no peers",
                           "set bgp: Enabled"))
    iface = inst.autodetect.get("interface")
    cidrs = inst.autodetect.get("cidrs")
    lab_ifaces = {n.interface for n in topo.k8s_nodes}
    if iface is not None and {str(iface)} != lab_ifaces:
        out.append(Problem(where, "spec.calicoNetwork.nodeAddressAutodetectionV4.interface",
                           f"{iface!r}, but the nodes' lab interfaces are {', '.join(sorted(lab_ifaces))}",
                           "name the interface of the nodes' links in the topology"))
    if cidrs is not None and not any(topo.segment.subnet_of(IPv4Network(str(c), strict=False)) for c in cidrs):
        out.append(Problem(where, "spec.calicoNetwork.nodeAddressAutodetectionV4.cidrs",
                           f"{cidrs} does not hold the segment {topo.segment}", f"use cidrs: [{topo.segment}]"))
    workload = {p.name: p for p in pools if "Workload" in p.allowed_uses}
    for op in inst.pools:
        mine = workload.get(op.name)
        if mine is None:
            out.append(Problem(where, f"ipPools {op.name}", "not one of the workshop's pod pools",
                               f"use the name of a Workload pool of lab/manifests/calico: {', '.join(workload)}"))
        elif (op.cidr, op.block_size) != (mine.cidr, mine.block_size):
            out.append(Problem(where, f"ipPools {op.name}",
                               f"{op.cidr} blockSize {op.block_size}, but the workshop's pool is {mine.cidr} "
                               f"blockSize {mine.block_size}", "make them the same"))
    kind_file = topo.path.parent / topo.kind_config
    if not kind_file.is_file():
        out.append(Problem(str(topo.path), f"topology.nodes.{topo.cluster}.startup-config",
                           f"{kind_file} does not exist: the containerlab engine creates the kind cluster from it",
                           "copy lab/kind-cluster.yaml next to the topology, or point startup-config at it"))
        return out
    kind = yaml.safe_load(kind_file.read_text()) or {}
    subnet = str((kind.get("networking") or {}).get("podSubnet", ""))
    if inst.pools and subnet != str(inst.pools[0].cidr):
        out.append(Problem(str(kind_file), "networking.podSubnet", f"{subnet!r}, but Calico's pod pool is "
                           f"{inst.pools[0].cidr}", f"set podSubnet: {inst.pools[0].cidr}"))
    if not (kind.get("networking") or {}).get("disableDefaultCNI"):
        out.append(Problem(str(kind_file), "networking.disableDefaultCNI", "kind would install kindnet",
                           "set disableDefaultCNI: true (Calico is the CNI)"))
    return out
