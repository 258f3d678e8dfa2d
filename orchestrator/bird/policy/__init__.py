"""The route-policy test: a bird.conf run by a throwaway BIRD in scratch namespaces, fed routes.

For each config under test (the candidate, and the running config for "before") two namespaces are
made, `gwlab-<lab>.scratch-<id>-<label>` (the router) and `...-<label>-p` (its peers), joined by a
veth: the router's side carries the router's address on the router's interface name, the peers'
side the addresses of the lab's nodes. BIRD runs the config unchanged but for its `log` files
(redirected to a scratch directory) and its control socket (`-s`). A small BGP speaker (bgpfeed)
opens a session from each node's address with the node's AS, so the config's own BGP protocols,
names, `net`, `bgp_path`, `source = RTS_BGP`, `from` and `proto` behave as on the real router. What
each protocol keeps in its table is what the config accepts; the rest it filters.

The namespaces carry the lab's name, so `gwlab down`/`clean` remove them after a crash; normally
they go in a finally block, and the scratch BIRD is stopped by the PID recorded at its start.
The package's names are its modules' (model, routes, scratch, run), gathered here for its users.
"""

from orchestrator.bird.policy.model import (
    ConfigUnderTest,
    FedRoute,
    Feeder,
    PolicyRun,
    PolicyTestError,
    RoutesFor,
    ScratchNet,
    SessionOutcome,
)
from orchestrator.bird.policy.routes import attrs_of, probes, routes_from_export, routes_received
from orchestrator.bird.policy.run import run
from orchestrator.bird.policy.scratch import Scratch

__all__ = ["ConfigUnderTest", "FedRoute", "Feeder", "PolicyRun", "PolicyTestError", "RoutesFor", "Scratch",
           "ScratchNet", "SessionOutcome", "attrs_of", "probes", "routes_from_export", "routes_received", "run"]
