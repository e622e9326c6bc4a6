"""Answers checked against the running API's own OpenAPI document."""

from __future__ import annotations

import re

NOT_JSON = object()  # a body that did not parse


class Contract:
    """Statuses and response schemas of every operation, from `GET /v1/openapi.json`."""

    def __init__(self, document: dict):
        from jsonschema import Draft202012Validator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self.registry = Registry().with_resource("urn:api", resource)
        self.routes: list[tuple[str, re.Pattern, str]] = []
        for path, operations in document["paths"].items():
            pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
            for method in operations:
                self.routes.append((method.upper(), pattern, path))
        self._validators: dict[tuple[str, str, str], object] = {}
        self._validator_class = Draft202012Validator

    def template(self, method: str, path: str) -> str | None:
        bare = path.split("?", 1)[0]
        for route_method, pattern, template in self.routes:
            if route_method == method and pattern.match(bare):
                return template
        return None

    def problems(self, method: str, path: str, status: int, body, content_type: str) -> list[str]:
        template = self.template(method, path)
        if template is None:
            return [f"no operation in the document for {method} {path}"]
        responses = self.document["paths"][template][method.lower()]["responses"]
        if str(status) not in responses:
            return [f"status {status} not listed for {method} {template} ({sorted(responses)})"]
        if "application/json" not in (content_type or ""):
            return [f"content type {content_type!r}, not JSON"]
        if body is NOT_JSON:
            return ["body is not JSON"]
        schema = responses[str(status)].get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            return []
        key = (template, method, str(status))
        if key not in self._validators:
            self._validators[key] = self._validator_class({"$ref": "urn:api#" + _pointer(template, method, status)},
                                                          registry=self.registry)
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
                  for e in self._validators[key].iter_errors(body)]
        if status >= 400 and not errors:
            error = body.get("error", {})
            if set(body) != {"error"} or set(error) != {"code", "message"} or not re.fullmatch(
                    r"[a-z][a-z0-9_]*", error.get("code", "")) or not error.get("message"):
                errors.append(f"error body not in the contract's shape: {body}")
        return errors


def _pointer(template: str, method: str, status: int) -> str:
    escaped = template.replace("~", "~0").replace("/", "~1")
    return f"/paths/{escaped}/{method.lower()}/responses/{status}/content/application~1json/schema"

