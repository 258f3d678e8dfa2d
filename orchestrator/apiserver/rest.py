"""The REST surface: one request in, one response out (or a stream for watches), independent of HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from orchestrator.apiserver import discovery, errors, openapi, watch
from orchestrator.apiserver.body import decode_body
from orchestrator.apiserver.crud import Objects, key_of
from orchestrator.apiserver.deletion import Deleter
from orchestrator.apiserver.errors import ApiError
from orchestrator.apiserver.patch import merge_patch, strategic_merge
from orchestrator.apiserver.registry import Resource, group_versions, lookup
from orchestrator.apiserver.schemas import resource_schema
from orchestrator.apiserver.selectors import label_matcher, parse_fields
from orchestrator.apiserver.tables import table
from orchestrator.apiserver.messages import LogSource, Obj, Request, Response, Target
from orchestrator.k8s.jsonpatch import PatchError, apply_patch_text


def _dry(req: Request) -> bool:
    """dryRun=All (kubectl diff, --dry-run=server): everything but the write."""
    return req.query.get("dryRun") == "All"


def _wants_table(req: Request) -> bool:
    return "as=Table" in req.headers.get("accept", "")


class Api:
    def __init__(self, objects: Objects, server_address: str, log_source: LogSource | None = None) -> None:
        self.objects = objects
        self.server_address = server_address
        self.deleter = Deleter(objects)
        self.log_source = log_source

    def handle(self, req: Request) -> Response:
        try:
            return self._route(req)
        except ApiError as exc:
            return Response(exc.code, exc.status(), headers=exc.headers)
        except Exception as exc:  # noqa: BLE001 - a bug must answer as kube-apiserver's InternalError, not hang up
            err = ApiError(500, "InternalError", f"Internal error occurred: {type(exc).__name__}: {exc}")
            return Response(500, err.status())

    # routing
    def _route(self, req: Request) -> Response:
        parts = [p for p in req.path.split("/") if p]
        accept = req.headers.get("accept", "")
        if req.path in ("/healthz", "/livez", "/readyz"):
            return Response(200, b"ok", "text/plain")
        if parts == ["version"]:
            return Response(200, discovery.version())
        if parts in (["api"], ["apis"]):
            if "apidiscovery.k8s.io" in accept and "as=APIGroupDiscoveryList" in accept:
                return Response(200, discovery.aggregated(parts == ["api"]), discovery.AGGREGATED)
            return Response(200, discovery.api_versions(self.server_address) if parts == ["api"]
                            else discovery.api_group_list())
        if parts[:2] == ["openapi", "v3"]:
            return self._openapi(parts[2:])
        if parts == ["openapi", "v2"]:
            # kubectl asks for v2 only for a kind v3 does not serve: a document without definitions
            # lets it skip validating that kind, so its REST mapping says what kube-apiserver's does
            # ("no matches for kind ... ensure CRDs are installed first").
            return Response(200, openapi.V2_EMPTY, openapi.V2_PROTOBUF)
        if parts[:1] == ["api"] and len(parts) >= 2:
            return self._group_version(req, "", parts[1], parts[2:])
        if parts[:1] == ["apis"] and len(parts) >= 3:
            return self._group_version(req, parts[1], parts[2], parts[3:])
        raise errors.no_route(req.path)

    def _openapi(self, rest: list[str]) -> Response:
        if not rest:
            return Response(200, openapi.root())
        wanted = "/".join(rest)
        for group, ver in group_versions():
            if openapi.gv_path(group, ver) == wanted:
                body, digest = openapi.document(group, ver)
                return Response(200, body, headers={"Etag": f'"{digest}"',
                                                    "Cache-Control": "public, immutable, max-age=31536000"})
        raise errors.no_route("/openapi/v3/" + wanted)

    def _group_version(self, req: Request, group: str, ver: str, rest: list[str]) -> Response:
        if (group, ver) not in group_versions():
            raise errors.no_route(req.path)
        if not rest:
            return Response(200, discovery.api_resource_list(group, ver))
        namespace = ""
        if rest[0] == "namespaces" and len(rest) >= 3 and not (len(rest) == 3 and rest[2] in ("status", "finalize")):
            namespace, rest = rest[1], rest[2:]
        r = lookup(group, ver, rest[0])
        if r is None or len(rest) > 3 or (namespace and not r.namespaced):
            raise errors.no_route(req.path)
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if sub and sub not in r.subresources:
            raise errors.no_route(req.path)
        target = Target(r, namespace, name, sub)
        if not name:
            return self._collection(req, target)
        if sub:
            return self._subresource(req, target)
        return self._item(req, target)

    # collections and items
    def _collection(self, req: Request, t: Target) -> Response:
        r = t.resource
        if req.method == "GET":
            ns = t.namespace if r.namespaced and t.namespace else None
            if req.query.get("watch") in ("true", "1"):
                return watch.serve(self.objects.store, key_of(r), r, ns, req.query, _wants_table(req),
                                   self._filter(req, r))
            items, rv = self.objects.list_of(r, ns)
            keep = self._filter(req, r)
            items = [o for o in items if keep(o)]
            if _wants_table(req):
                return Response(200, table(r, items, str(rv), req.query.get("includeObject", "Metadata")),
                                "application/json;as=Table;v=v1;g=meta.k8s.io")
            return Response(200, {"kind": f"{r.kind}List", "apiVersion": r.api_version,
                                  "metadata": {"resourceVersion": str(rv)}, "items": items})
        if req.method == "POST":
            out = self.objects.create(r, t.namespace, decode_body(req.body, req.headers),
                                      req.query.get("fieldValidation", "Warn"), dry_run=_dry(req))
            return self.answer(201, out.obj, out.warnings, req, r)
        if req.method == "DELETE":
            return Response(200, self.deleter.delete_collection(r, t.namespace or None, self._filter(req, r)))
        raise errors.method_not_allowed()

    def _filter(self, req: Request, r: Resource) -> Callable[[Obj], bool]:
        labels = label_matcher(req.query["labelSelector"]) if req.query.get("labelSelector") else None
        fields = parse_fields(req.query["fieldSelector"], r.kind, r.plural) if req.query.get("fieldSelector") \
            else None
        return lambda o: (labels is None or labels(o)) and (fields is None or fields(o))

    def answer(self, code: int, obj: Obj, warnings: list[str], req: Request, r: Resource) -> Response:
        headers = {}
        if warnings:
            headers["Warning"] = ", ".join('299 - ' + json.dumps(w) for w in warnings)
        if _wants_table(req):
            return Response(code, table(r, [obj], obj["metadata"].get("resourceVersion", "")), headers=headers)
        return Response(code, obj, headers=headers)

    def _item(self, req: Request, t: Target) -> Response:
        r = t.resource
        strict = req.query.get("fieldValidation", "Warn")
        if req.method == "GET":
            return self.answer(200, self.objects.get(r, t.namespace, t.name), [], req, r)
        if req.method == "PUT":
            out = self.objects.update(r, t.namespace, t.name, decode_body(req.body, req.headers), strict,
                                      dry_run=_dry(req))
            return self.answer(200, out.obj, out.warnings, req, r)
        if req.method == "PATCH":
            patched = self.patched(req, t)
            out = self.objects.update(r, t.namespace, t.name, patched, strict, dry_run=_dry(req))
            return self.answer(200, out.obj, out.warnings, req, r)
        if req.method == "DELETE":
            options = decode_body(req.body, req.headers) if req.body else {}
            return Response(200, self.deleter.delete(r, t.namespace, t.name, options if isinstance(options, dict)
                                                     else {}, dry_run=_dry(req)))
        raise errors.method_not_allowed()

    def patched(self, req: Request, t: Target, current: Obj | None = None, r: Resource | None = None) -> Any:
        r = r or t.resource
        current = current if current is not None else self.objects.get(t.resource, t.namespace, t.name)
        ctype = req.headers.get("content-type", "").split(";")[0].strip()
        if len(req.body) > 3 * 1024 * 1024:
            raise errors.too_large()
        text = req.body.decode("utf-8", "replace")
        if ctype == "application/json-patch+json":
            try:
                return apply_patch_text(current, text)
            except PatchError as exc:
                raise ApiError(422, "Invalid", str(exc)) from None
        if ctype not in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            if ctype == "application/apply-patch+yaml":
                raise ApiError(415, "UnsupportedMediaType", "server-side apply is not served by this lab's API "
                               "server: use kubectl apply without --server-side")
            raise errors.unsupported_media(ctype)
        try:
            patch = json.loads(text)
        except ValueError as exc:
            raise errors.bad_request(f"error decoding patch: {exc}") from None
        if ctype == "application/merge-patch+json":
            return merge_patch(current, patch)
        if not r.builtin:
            raise errors.patch_type_unsupported()
        schema, pool = resource_schema(r)
        return strategic_merge(current, patch, schema, pool)

    # subresources
    def _subresource(self, req: Request, t: Target) -> Response:
        from orchestrator.apiserver import subresources

        return subresources.handle(self, req, t)
