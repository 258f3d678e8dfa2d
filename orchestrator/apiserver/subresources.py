"""Subresources: status (only status changes), scale (autoscaling/v1 Scale of a Deployment or
ReplicaSet), pods/log (a file), pods/exec and pods/portforward (refused, naming `gwlab exec`)."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.apiserver import errors
from orchestrator.apiserver.body import decode_body
from orchestrator.apiserver.errors import ApiError
from orchestrator.apiserver.tables import selector_text

if TYPE_CHECKING:
    from orchestrator.apiserver.messages import Answering as Api, Request, Response, Target

Obj = dict[str, Any]
SCALE = {"group": "autoscaling", "version": "v1", "kind": "Scale"}


def handle(api: Api, req: Request, t: Target) -> Response:
    from orchestrator.apiserver.messages import LOG_ANNOTATION, Response

    r = t.resource
    strict = req.query.get("fieldValidation", "Warn")
    if t.subresource in ("exec", "portforward"):
        what = "exec" if t.subresource == "exec" else "port-forward"
        raise ApiError(400, "BadRequest", f"{what} into pods is not available from this lab's API server: the pod "
                       f"runs in a network namespace of the lab; use `gwlab exec pod/{t.name} -- COMMAND`")
    if t.subresource == "log":
        if req.method != "GET":
            raise errors.method_not_allowed()
        pod = api.objects.get(r, t.namespace, t.name)
        container = req.query.get("container", "")
        path = api.log_source(pod, container) if api.log_source else None
        annotated = (pod["metadata"].get("annotations") or {}).get(LOG_ANNOTATION)
        path = path or (Path(annotated) if annotated else None)
        if path is None or not path.is_file():
            raise errors.bad_request(f'container "{container or _first_container(pod)}" in pod "{t.name}" is '
                                     "waiting to start: no log yet")
        data = path.read_bytes()
        read = len(data)
        tail = req.query.get("tailLines")
        if tail and tail.isdigit():
            data = b"".join(data.splitlines(keepends=True)[-int(tail):]) if int(tail) else b""
        if req.query.get("follow") == "true":
            return Response(200, b"", "text/plain", stream=_follow(api, t, path, data, read))
        return Response(200, data, "text/plain")
    if t.subresource == "scale":
        return _scale(api, req, t, strict)
    if t.subresource in ("status", "finalize"):
        if req.method == "GET":
            return api.answer(200, api.objects.get(r, t.namespace, t.name), [], req, r)
        if req.method == "PUT":
            body = decode_body(req.body, req.headers)
        elif req.method == "PATCH":
            body = api.patched(req, t)
        else:
            raise errors.method_not_allowed()
        sub = "status" if t.subresource == "status" else ""
        out = api.objects.update(r, t.namespace, t.name, body, strict, subresource=sub)
        return api.answer(200, out.obj, out.warnings, req, r)
    raise errors.no_route(req.path)


FOLLOW_LIMIT = 3600.0  # seconds a `kubectl logs -f` stays open at most
FOLLOW_POLL = 0.2


def _follow(api: Api, t: Target, path: Path, first: bytes, offset: int) -> Iterator[bytes]:
    """The log so far (offset bytes were read), then what is appended, until the pod goes or
    FOLLOW_LIMIT passes."""
    if first:
        yield first
    deadline = time.monotonic() + FOLLOW_LIMIT
    while time.monotonic() < deadline:
        time.sleep(FOLLOW_POLL)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return
        if size < offset:  # truncated or replaced: start over
            offset = 0
        if size > offset:
            with path.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read(size - offset)
            offset = size
            yield chunk
        elif api.objects.store.get("/pods", t.namespace, t.name) is None:
            return
        else:
            yield b""  # idle: lets the HTTP layer notice a client that hung up


def _first_container(pod: Obj) -> str:
    containers = (pod.get("spec") or {}).get("containers") or [{}]
    return str(containers[0].get("name", ""))


def as_scale(obj: Obj) -> Obj:
    meta = obj["metadata"]
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                         if k in meta},
            "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                       "selector": selector_text((obj.get("spec") or {}).get("selector"))}}


def _scale(api: Api, req: Request, t: Target, strict: str) -> Response:
    from orchestrator.apiserver.messages import Response

    r = t.resource
    current = api.objects.get(r, t.namespace, t.name)
    if req.method == "GET":
        return Response(200, as_scale(current))
    if req.method == "PUT":
        scale = decode_body(req.body, req.headers)
    elif req.method == "PATCH":
        scale = api.patched(req, t, as_scale(current))
    else:
        raise errors.method_not_allowed()
    if not isinstance(scale, dict):
        raise errors.bad_request("the body must be a Scale object")
    replicas = (scale.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise errors.invalid("autoscaling", "Scale", t.name, [errors.Cause(
            "spec.replicas", f"Invalid value: {replicas!r}: must be greater than or equal to 0")])
    updated = copy.deepcopy(current)
    updated["spec"]["replicas"] = replicas
    wanted_rv = (scale.get("metadata") or {}).get("resourceVersion")
    updated["metadata"]["resourceVersion"] = wanted_rv or current["metadata"]["resourceVersion"]
    out = api.objects.update(r, t.namespace, t.name, updated, strict)
    return Response(200, as_scale(out.obj))
