"""Faults injected into a lab and failover measured end to end.

setup.py       impairments declared in topology.clab.yml: checked before `up` makes anything, applied after
netem_ops.py   `gwlab netem set|show|reset` on a node's interfaces (through orchestrator.impair)
inject.py      link-down/up, isolate/rejoin, kill, clear: each recorded in the lab's state and undoable
supervisor.py  the per-lab supervisor: a node's BIRD that dies by itself is started again with -R
load.py        the bounded request load run inside the bastion (one TLS connection per request)
failover.py    a fault under load, measured: outage, route convergence, BGP events, verdict
report.py      the failover report as text and JSON, and the suite's table
"""
