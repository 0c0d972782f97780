// RuleCatalog: one-line descriptions of the scanner's rules (used in SARIF and documentation).

/// The rules the scanner reports.
public enum RuleCatalog {
    public static let descriptions: [String: String] = [
        "pickle-dangerous-callable": "A pickle imports a callable known to run code, load code or reach files or networks.",
        "pickle-unknown-callable": "A pickle imports a callable that no allow profile or policy permits (deny by default).",
        "pickle-unresolved-global": "A pickle builds an import whose name is not a plain string, so it cannot be checked.",
        "pickle-extension-code": "A pickle uses the copyreg extension registry (EXT1/2/4), whose callable cannot be checked.",
        "pickle-data-after-stop": "A second pickle follows the first STOP; lenient loaders run it.",
        "pickle-malformed": "The pickle stream is not well formed.",
        "scan-limit": "A size, count or depth limit stopped the scan, so the file cannot be shown safe.",
        "zip-anomaly": "The zip archive is structured in a way strict and lenient readers disagree on, or is hostile.",
        "zip-malformed": "The zip archive cannot be read.",
        "tar-anomaly": "The tar archive has an unsafe entry.",
        "compression-malformed": "A compressed stream is corrupt or too large.",
        "numpy-object-array": "A NumPy file holds an object array, which is a pickle.",
        "numpy-malformed": "The NumPy header is not well formed.",
        "safetensors-malformed": "The safetensors header is inconsistent with the file.",
        "gguf-malformed": "The GGUF header is inconsistent with the file.",
        "gguf-chat-template": "The GGUF file carries a Jinja template, checked against Jinja's sandbox rules and found to keep to them.",
        "tokenizer-chat-template": "A tokenizer config or template file carries a Jinja chat template that keeps to Jinja's sandbox rules.",
        "tokenizer-config-malformed": "A tokenizer config is not valid JSON, or its chat_template is neither a string nor a list of templates.",
        "template-sandbox-escape": "A Jinja template reaches an attribute Jinja's sandbox refuses (a name starting with `_`), the way CVE-2024-34359 runs code.",
        "template-dynamic-attribute": "A Jinja template builds an attribute name or format string at render time, which no static check can judge.",
        "template-unknown-call": "A Jinja template calls a name that is neither a global of chat-template renderers nor a macro of the template.",
        "template-unknown-filter": "A Jinja template uses a filter outside Jinja's built-in filters.",
        "template-unknown-test": "A Jinja template uses a test outside Jinja's built-in tests.",
        "template-unparsed": "A Jinja template uses syntax the analysis cannot parse, so it cannot be shown to keep to the sandbox rules.",
        "keras-lambda": "A Keras model config holds a Lambda layer or a function reference, which runs code on load.",
        "onnx-external-data": "An ONNX model points at external data outside its directory.",
        "onnx-malformed": "The ONNX protobuf is not well formed.",
        "archive-7z": "A 7z archive, whose members are not scanned.",
        "file-unreadable": "The file could not be read.",
    ]

    public static func describe(_ rule: String) -> String { descriptions[rule] ?? rule }
}
