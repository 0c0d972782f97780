"""`mlsec sbom`: the model's ML-BOM and MLSec's own dependencies, as CycloneDX 1.6 JSON that the reference library
(cyclonedx-python-lib) validates against the 1.6 schema in strict mode and reads back; hashes checked against the
files, and hostile model directories refused with exit 2."""
import hashlib
import json
import struct

import numpy as np
import pytest
from cyclonedx.model.bom import Bom
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from safetensors.numpy import save_file

from conftest import mlsec

SPEC = {
    "format": "mlsec.model/1", "name": "tiny",
    "input": {"name": "input", "datatype": "FP32", "shape": [-1, 4], "min": 0, "max": 1},
    "output": {"name": "logits", "datatype": "FP32", "shape": [-1, 3]},
    "layers": [{"type": "dense", "weight": "fc1.weight", "bias": "fc1.bias"}, {"type": "relu"},
               {"type": "dense", "weight": "fc2.weight", "bias": "fc2.bias"}, {"type": "softmax"}],
}
PARAMETERS = 8 * 4 + 8 + 3 * 8 + 3


def make_model(path):
    """A small model written by the Python peers (json, safetensors), not by mlsec."""
    path.mkdir(parents=True)
    (path / "model.json").write_text(json.dumps(SPEC))
    rng = np.random.default_rng(7)
    tensors = {"fc1.weight": rng.standard_normal((8, 4)), "fc1.bias": np.zeros(8), "fc2.weight": rng.standard_normal((3, 8)),
               "fc2.bias": np.zeros(3)}
    save_file({k: v.astype(np.float32) for k, v in tensors.items()}, str(path / "weights.safetensors"))
    return path


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_valid(text):
    """The document is valid CycloneDX 1.6 (strict schema) and reads back into the reference library's model."""
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    bom = Bom.from_json(json.loads(text))
    assert len(bom.components) > 0
    return json.loads(text)


def properties(component):
    return {p["name"]: p.get("value") for p in component.get("properties", [])}


def hashes(component):
    return {h["alg"]: h["content"] for h in component.get("hashes", [])}


@pytest.fixture
def signed_model(tmp_path):
    model = make_model(tmp_path / "tiny")
    mlsec("keygen", "--private-key", tmp_path / "signing.pem", "--public-key", tmp_path / "signing.pub", check=0)
    mlsec("sign", model, "--private-key", tmp_path / "signing.pem", "--signature", tmp_path / "tiny.sig", check=0)
    return model, tmp_path / "tiny.sig"


def test_model_bom_is_valid_cyclonedx_with_the_files_hashes(signed_model):
    model, signature = signed_model
    proc = mlsec("sbom", "--model", model, "--version", "1", "--signature", signature, check=0)
    doc = check_valid(proc.stdout)
    assert doc["specVersion"] == "1.6" and doc["serialNumber"].startswith("urn:uuid:")
    components = {c["bom-ref"]: c for c in doc["components"]}
    for name in ("model.json", "weights.safetensors"):
        file = components[f"file:{name}"]
        assert file["type"] == "file" and hashes(file)["SHA-256"] == sha256(model / name)
    [ml] = [c for c in doc["components"] if c["type"] == "machine-learning-model"]
    assert (ml["name"], ml["version"]) == ("tiny", "1")
    props = properties(ml)
    assert props["mlsec:format"] == "safetensors"
    assert props["mlsec:parameter-count"] == str(PARAMETERS)
    assert props["mlsec:layers"] == "dense,relu,dense,softmax"
    # The model's hash is the manifest root digest `mlsec digest` prints (and a signature covers).
    root = mlsec("digest", model, check=0).stdout.strip()
    assert props["mlsec:manifest-digest"] == root and "sha256:" + hashes(ml)["SHA-256"] == root
    assert props["mlsec:signature-sha256"] == "sha256:" + sha256(signature)
    card = ml["modelCard"]
    assert card["modelParameters"]["modelArchitecture"] == "dense 4->8, relu, dense 8->3, softmax"
    assert card["modelParameters"]["inputs"] == [{"format": "tensor input FP32 [-1, 4] in [0, 1]"}]
    risks = " ".join(r["mitigationStrategy"] for r in card["considerations"]["ethicalConsiderations"])
    assert "pickle-free" in risks and "Not encrypted at rest" in risks
    [sig] = [c for c in doc["components"] if properties(c).get("mlsec:role") == "signature-bundle"]
    assert hashes(sig)["SHA-256"] == sha256(signature)
    [edges] = [d for d in doc["dependencies"] if d["ref"] == ml["bom-ref"]]
    assert edges["dependsOn"] == ["file:model.json", "file:weights.safetensors"]


def test_encrypted_files_are_hashed_as_they_lie_on_disk(tmp_path):
    plain = make_model(tmp_path / "plain")
    model = tmp_path / "sealed"
    model.mkdir()
    recipient = mlsec("keygen", "--algorithm", "x25519", "--private-key", tmp_path / "model.key", check=0).stdout.strip()
    mlsec("encrypt", "-r", recipient, "-o", model / "weights.safetensors.age", plain / "weights.safetensors", check=0)
    (model / "model.json").write_bytes((plain / "model.json").read_bytes())
    out = tmp_path / "bom.cdx.json"
    proc = mlsec("sbom", "--model", model, "--out", out, check=0)
    assert proc.stdout == "" and str(out) in proc.stderr
    doc = check_valid(out.read_text())
    components = {c["bom-ref"]: c for c in doc["components"]}
    assert hashes(components["file:weights.safetensors.age"])["SHA-256"] == sha256(model / "weights.safetensors.age")
    assert properties(components["file:weights.safetensors.age"])["mlsec:encryption"] == "age"
    [ml] = [c for c in doc["components"] if c["type"] == "machine-learning-model"]
    assert properties(ml)["mlsec:encrypted-at-rest"] == "weights.safetensors.age"
    assert "mlsec:parameter-count" not in properties(ml)  # the weights are not read without their key
    # --out refuses to overwrite without --force.
    assert mlsec("sbom", "--model", model, "--out", out).returncode == 2
    assert mlsec("sbom", "--model", model, "--out", out, "--force").returncode == 0


def test_self_lists_mlsec_dependencies_from_package_resolved():
    proc = mlsec("sbom", "--self", check=0)
    doc = check_valid(proc.stdout)
    assert doc["metadata"]["component"]["name"] == "mlsec"
    libraries = {c["name"]: c for c in doc["components"]}
    crypto = libraries["swift-crypto"]
    assert crypto["type"] == "library" and crypto["version"] == "4.5.2"
    assert crypto["purl"] == "pkg:swift/github.com/apple/swift-crypto@4.5.2"
    assert crypto["licenses"] == [{"license": {"id": "Apache-2.0"}}]
    assert properties(crypto)["mlsec:revision"]
    assert libraries["grdb.swift"]["licenses"] == [{"license": {"id": "MIT"}}]
    assert libraries["swift-argument-parser"]["licenses"] == [{"expression": "Apache-2.0 WITH Swift-exception"}]
    bom = Bom.from_json(json.loads(proc.stdout))
    assert any(str(c.purl) == "pkg:swift/github.com/apple/swift-crypto@4.5.2" for c in bom.components)


@pytest.mark.parametrize("case", ["malformed-json", "bad-spec", "truncated-weights", "huge-header"])
def test_hostile_model_directory_exits_2_naming_the_file(tmp_path, case):
    model = make_model(tmp_path / "hostile")
    weights = model / "weights.safetensors"
    if case == "malformed-json":
        (model / "model.json").write_text('{"format": "mlsec.model/1", "layers": [')
        culprit = "model.json"
    elif case == "bad-spec":
        (model / "model.json").write_text(json.dumps({**SPEC, "layers": "dense"}))
        culprit = "model.json"
    elif case == "truncated-weights":
        weights.write_bytes(weights.read_bytes()[:-17])
        culprit = "weights.safetensors"
    else:
        weights.write_bytes(struct.pack("<Q", 1 << 62) + b"{}")
        culprit = "weights.safetensors"
    proc = mlsec("sbom", "--model", model)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert culprit in proc.stderr and "error:" in proc.stderr


def test_usage_errors_exit_2(tmp_path):
    assert mlsec("sbom").returncode == 2
    assert mlsec("sbom", "--self", "--model", tmp_path).returncode == 2
    proc = mlsec("sbom", "--model", "digits", "--version", "3")
    assert proc.returncode == 2 and "no registry given" in proc.stderr
