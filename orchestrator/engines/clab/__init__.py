"""The containerlab engine: the lab on Docker with containerlab, a kind cluster and real Calico.

Modules: names (what each thing of a lab is called), derived (the topology copy handed to
containerlab), plan (the ordered steps as data: printed by --dry-run, executed by the engine),
prereqs (local facts checked before anything is made), docker / runner / bridge (the outside
world behind small interfaces), parse (birdc -v and `ip -j route` output), operator (strict
models of the Calico operator manifests), engine (ClabEngine, the Engine protocol), cleanup
(down and clean), dryrun (the full plan as text).
"""
