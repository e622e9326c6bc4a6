"""docs/ERRORS.md names every error code the code base can give, and no code it cannot: a client branches on
them, so one added without a word there (or one documented and gone) fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [*sorted((ROOT / "chalicelib").rglob("*.py")), ROOT / "devtools" / "local_api.py"]
DOC = ROOT / "docs" / "ERRORS.md"


def _error_classes() -> dict[str, str]:
    """Every DomainError subclass by name, with the code it gives when raised without one of its own."""
    from chalicelib.api.http import UnsupportedMediaType
    from chalicelib.core import errors

    classes = [UnsupportedMediaType]
    pending = [errors.DomainError]
    while pending:
        cls = pending.pop()
        classes.append(cls)
        pending += cls.__subclasses__()
    return {cls.__name__: cls.code for cls in classes}


def _codes_given() -> set[str]:
    defaults = _error_classes()
    given = set()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", getattr(node.func, "id", None))
                code = next((k.value for k in node.keywords if k.arg == "code"), None)
                if isinstance(code, ast.Constant) and isinstance(code.value, str):
                    given.add(code.value)  # code="..." wherever it is passed
                elif code is None and name in defaults:
                    given.add(defaults[name])  # raised without a code: its class's
                if name == "error_response" and len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                    given.add(node.args[1].value)
            elif isinstance(node, ast.Dict):  # an error body written out: {"code": "...", ...}
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "code" and isinstance(value, ast.Constant):
                        given.add(value.value)
    from infra.build_template import GATEWAY_ERRORS

    return given | {code for _, code, _ in GATEWAY_ERRORS.values()}


NOT_CODES = {"limit", "cursor", "ops", "claim_seconds"}  # other words the page puts in backticks


def _codes_documented() -> set[str]:
    return set(re.findall(r"`([a-z]+(?:_[a-z]+)*)`", DOC.read_text())) - NOT_CODES


def test_every_code_given_is_documented_and_every_documented_code_is_given():
    given, documented = _codes_given(), _codes_documented()
    assert len(given) > 40  # the walk finds them: a broken walk must not pass on two empty sets
    assert given - documented == set(), "codes missing from docs/ERRORS.md"
    assert documented - given == set(), "docs/ERRORS.md names codes nothing gives"
