"""Link impairment (netem) and link faults inside a lab's namespaces.

spec.py      NetemSpec and the reading of `netem set` values (containerlab's semantics)
codec.py     NetemSpec <-> the kernel's netem options, as pyroute2 encodes and decodes them
tc.py        set / show / reset an interface's netem qdisc (and gwlab's rate tbf) in a namespace
tbf.py       a rate as a tbf qdisc, to and from the kernel (a kernel without netem)
nft.py       a loss as an nftables egress drop rule (a kernel without netem)
plan.py      which mechanism carries which field on this kernel, and the refusal for the rest
support.py   what the kernel has (netem, tbf, the netdev egress hook), asked in a scratch namespace
apply.py     an interface's whole impairment set / shown / reset through those mechanisms
link.py      an interface's link down / up, and its state
declared.py  impairments declared in topology.clab.yml (`vars.netem`)
access.py    a netlink socket inside a lab namespace, and interface lookup
"""
