#!/usr/bin/env python3
"""Embeds docs/openapi.json (the source of truth for the gateway's API) into the gateway module, so the
served document is always this file. Run after editing docs/openapi.json; a test checks they are equal."""
import json
import pathlib

root = pathlib.Path(__file__).resolve().parents[1]
doc = json.loads((root / "docs" / "openapi.json").read_text())


def compact(value):
    return json.dumps(value, separators=(",", ":"))


# One line per path and per component (compact JSON inside): readable, and no long runs of repeated lines.
lines = ["{"]
for i, (key, value) in enumerate(doc.items()):
    comma = "," if i < len(doc) - 1 else ""
    if key in ("paths", "components") and isinstance(value, dict):
        lines.append(f"  {compact(key)}: {{")
        for j, (k, v) in enumerate(value.items()):
            lines.append(f"    {compact(k)}: {compact(v)}" + ("," if j < len(value) - 1 else ""))
        lines.append("  }" + comma)
    else:
        lines.append(f"  {compact(key)}: {compact(value)}{comma}")
lines.append("}")
text = "\n".join(lines)
assert json.loads(text) == doc
swift = ("// OpenAPIDocument: the gateway API as OpenAPI 3.0, generated from docs/openapi.json by\n"
         "// scripts/embed-openapi.py (do not edit by hand).\n\n"
         "enum OpenAPIDocument {\n    static let text = #\"\"\"\n" + text + "\n\"\"\"#\n\n"
         "    static var bytes: [UInt8] { Array(text.utf8) }\n}\n")
(root / "Sources" / "MLSecGateway" / "OpenAPIDocument.swift").write_text(swift)
