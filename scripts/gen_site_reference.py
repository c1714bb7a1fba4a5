#!/usr/bin/env python3
"""Write docs/site-reference.md: every key of site.yaml, from the schema (schemas/site.schema.json: type,
default, description) with the example's value (site.yaml) where it has one.

    python3 scripts/gen_site_reference.py          # rewrite docs/site-reference.md
    python3 scripts/gen_site_reference.py --check  # exit 1 when it is not current (tests/test_docs_current.py)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "schemas" / "site.schema.json"
EXAMPLE = REPO / "site.yaml"
TARGET = REPO / "docs" / "site-reference.md"
ANY = object()


def resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Follow `$ref` JSON pointers (#/a/b/c) into the schema."""
    while "$ref" in node:
        target: Any = root
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def kind(node: dict[str, Any]) -> str:
    if "enum" in node:
        return " \\| ".join(json.dumps(v) for v in node["enum"])
    if "const" in node:
        return json.dumps(node["const"])
    types = node.get("type")
    if isinstance(types, list):
        return " \\| ".join(types)
    if types == "array" and isinstance(node.get("items"), dict):
        return f"list of {node['items'].get('type', 'items')}"
    if types is None and ("anyOf" in node or "oneOf" in node):
        return "one of several forms"
    return str(types or "")


def example_at(data: Any, path: list[str]) -> Any:
    for part in path:
        if part.startswith("<"):
            if not isinstance(data, dict) or not data:
                return ANY
            data = next(iter(data.values()))
        elif isinstance(data, dict) and part in data:
            data = data[part]
        else:
            return ANY
    return data


def rows(node: dict[str, Any], defs: dict[str, Any], path: list[str], data: Any) -> list[str]:
    node = resolve(node, defs)
    out: list[str] = []
    if path:
        value = example_at(data, path)
        shown = "" if value is ANY or isinstance(value, dict) else f"`{json.dumps(value, ensure_ascii=False)}`"
        default = f"`{json.dumps(node['default'])}`" if "default" in node else ""
        desc = " ".join(str(node.get("description", "")).split()).replace("|", "\\|")
        out.append(f"| `{'.'.join(path)}` | {kind(node)} | {default} | {desc} | {shown} |")
    children: dict[str, dict[str, Any]] = dict(node.get("properties", {}))
    for alt in node.get("anyOf", []) + node.get("oneOf", []):
        for key, sub in resolve(alt, defs).get("properties", {}).items():
            children.setdefault(key, sub)
    for key, sub in children.items():
        out += rows(sub, defs, [*path, key], data)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and extra:
        out += rows(extra, defs, [*path, "<name>"], data)
    for sub in node.get("patternProperties", {}).values():
        out += rows(sub, defs, [*path, "<name>"], data)
    return out


def render() -> str:
    schema = json.loads(SCHEMA.read_text())
    data = yaml.safe_load(EXAMPLE.read_text())
    defs = schema
    out = ["# site.yaml reference\n\n",
           "Generated from `schemas/site.schema.json` by `scripts/gen_site_reference.py`; the example column is the\n",
           "value in the shipped `site.yaml` (`confgen init --from-example` writes it). `<name>` is a name you choose.\n"]
    for section, sub in schema["properties"].items():
        sub = resolve(sub, defs)
        required = " (required)" if section in schema.get("required", []) else ""
        out.append(f"\n## `{section}`{required}\n\n{' '.join(str(sub.get('description', '')).split())}\n\n")
        out.append("| key | type | default | meaning | example |\n|---|---|---|---|---|\n")
        out += [row + "\n" for row in rows(sub, defs, [section], data)]
    return "".join(out)


def main() -> int:
    text = render()
    if "--check" in sys.argv[1:]:
        if not TARGET.exists() or TARGET.read_text() != text:
            print(f"{TARGET} is not current: run python3 scripts/gen_site_reference.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
