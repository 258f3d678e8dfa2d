"""Link impairment (netem) and link faults inside a lab's namespaces.

spec.py      NetemSpec and the reading of `netem set` values (containerlab's semantics)
codec.py     NetemSpec <-> the kernel's netem options, as pyroute2 encodes and decodes them
tc.py        set / show / reset an interface's impairment in a namespace
link.py      an interface's link down / up, and its state
declared.py  impairments declared in topology.clab.yml (`vars.netem`)
access.py    a netlink socket inside a lab namespace, and interface lookup
"""
