"""Captures inside a lab's namespaces, and what they mean.

tcpdump runs inside the node's (or pod's) network namespace and writes a pcap stream to a pipe
(`sniff`); this process copies the stream to the user's file byte for byte (`pcapfile`), parses
the frames (`packet`), puts each TCP direction back in order (`tcpstream`), and decodes BGP
(`decode_bgp`) and TLS hellos (`decode_tls`) from the ordered bytes (`decoder`). `sessions` keeps
per-session state (4-octet AS, what each side announced, resets) and `render` prints it all.

`trace_bgp` and `trace_passthrough` are the traces: the latter captures on several points at once
(`multi`), knows who is who from the pod plane (`inventory`) and kube-proxy's counters (`dnat`),
follows one request hop by hop and judges it (`passthrough_path`), and prints it (`passthrough_report`).
"""
