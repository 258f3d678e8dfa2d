"""pyroute2's IPRoute, loaded without the rest of pyroute2.

`import pyroute2` loads every part of the library (NDB, IPDB, conntrack, wireless, ...) and costs
~0.2 s, which lands on `up`'s path before BIRD can start (BIRD's one-second start-up is the floor
of everything). The lab needs only IPRoute: its modules are loaded under a package object that
skips pyroute2/__init__.py; the first use of any other name of `pyroute2` runs that file then,
so other code importing from pyroute2 still gets the whole library. If loading IPRoute this way
ever fails, the whole package is imported as usual.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any


def _iproute_class() -> Any:
    if "pyroute2" not in sys.modules:
        spec = importlib.util.find_spec("pyroute2")
        if spec is not None and spec.submodule_search_locations:
            package = types.ModuleType("pyroute2")
            package.__path__ = list(spec.submodule_search_locations)
            package.__spec__ = spec
            package.__file__ = spec.origin

            def complete(name: str) -> Any:
                # `from pyroute2 import config` asks for the attribute before importing the
                # submodule: a submodule is imported as such, only other names need the whole init.
                if not name.startswith("__") and importlib.util.find_spec(f"pyroute2.{name}") is not None:
                    return importlib.import_module(f"pyroute2.{name}")
                delattr(package, "__getattr__")
                if spec.origin:
                    with open(spec.origin) as init:
                        exec(compile(init.read(), spec.origin, "exec"), package.__dict__)
                if name not in package.__dict__:
                    raise AttributeError(f"module 'pyroute2' has no attribute {name!r}")
                return package.__dict__[name]

            setattr(package, "__getattr__", complete)
            sys.modules["pyroute2"] = package
            try:
                return importlib.import_module("pyroute2.iproute.linux").IPRoute
            except Exception:
                for name in [m for m in sys.modules if m == "pyroute2" or m.startswith("pyroute2.")]:
                    del sys.modules[name]
    return importlib.import_module("pyroute2").IPRoute


IPRoute = _iproute_class()
