"""The netns engine: the lab as Linux network namespaces of this host.

- engine: NetnsEngine, the Engine protocol (orchestrator.engines.base) on namespaces;
- host: NodeHost, what the pod plane and the controllers need of the host (namespaces, node
  directories, netlink handles, exec, the process registry), without the engine;
- network: the namespaces, the segment's bridge, veths, addresses and neighbour entries;
- namespaces, rtnl, neighbours: named namespaces, pyroute2's IPRoute, batched neighbour entries;
- procs: daemons started in a namespace and stopped by their recorded PID; teardown: removal;
- pods, controllers: the emulated Kubernetes side (pods, kube-proxy's rules, gateway proxies).

This file imports nothing, so that `down` and `clean` load only what they use.
"""
