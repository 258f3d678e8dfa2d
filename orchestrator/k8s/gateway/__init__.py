"""The Gateway API: its objects as typed models (types), their strict parsing (parse, parse_gateway,
parse_route, fields), hostname rules (hostnames), and the controller's reconcile (reconcile, listeners,
routes, status, plan)."""
