#!/usr/bin/env python3
"""Embeds docs/openapi.json (the source of truth for the gateway's API) into the gateway module, so the
served document is always this file. Run after editing docs/openapi.json; a test checks they are equal."""
import json
import pathlib

root = pathlib.Path(__file__).resolve().parents[1]
text = json.dumps(json.loads((root / "docs" / "openapi.json").read_text()), indent=2)
swift = ("// OpenAPIDocument: the gateway API as OpenAPI 3.0, generated from docs/openapi.json by\n"
         "// scripts/embed-openapi.py (do not edit by hand).\n\n"
         "enum OpenAPIDocument {\n    static let text = #\"\"\"\n" + text + "\n\"\"\"#\n\n"
         "    static var bytes: [UInt8] { Array(text.utf8) }\n}\n")
(root / "Sources" / "MLSecGateway" / "OpenAPIDocument.swift").write_text(swift)
