"""Envoy as the Gateway's proxy, programmed as Envoy Gateway programs it: the proxy's IR (ir.py),
its making from the Gateway API plan (adapter.py), the translation to xDS (translate.py), file-based
delivery (layout.py, xds_files.py, bootstrap.py; validate.py and deliver.py check with Envoy first),
the admin API (admin.py), the access log
(accesslog.py) and the process's argv (spawn.py)."""
