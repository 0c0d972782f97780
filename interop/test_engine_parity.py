"""The native engine matches a NumPy reference on weights written by the Python safetensors package, and the
model directories it writes load in Python."""
import json

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from conftest import mlsec


def conv2d(x, w, b, stride, padding):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    ho = (h + 2 * padding - kh) // stride + 1
    wo = (wd + 2 * padding - kw) // stride + 1
    out = np.zeros((n, o, ho, wo))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3]))
    return out + (b[None, :, None, None] if b is not None else 0)


def pool(x, k, s, fn):
    n, c, h, w = x.shape
    ho, wo = (h - k) // s + 1, (w - k) // s + 1
    out = np.zeros((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            out[:, :, i, j] = fn(x[:, :, i * s:i * s + k, j * s:j * s + k], axis=(2, 3))
    return out


def reference_forward(layers, weights, x):
    for layer in layers:
        t = layer["type"]
        if t == "dense":
            x = x @ weights[layer["weight"]].T + (weights[layer["bias"]] if "bias" in layer else 0)
        elif t == "conv2d":
            x = conv2d(x, weights[layer["weight"]], weights.get(layer.get("bias")), layer.get("stride", 1),
                       layer.get("padding", 0))
        elif t == "relu":
            x = np.maximum(x, 0)
        elif t == "tanh":
            x = np.tanh(x)
        elif t == "sigmoid":
            x = 1 / (1 + np.exp(-x))
        elif t == "softmax":
            e = np.exp(x - x.max(axis=-1, keepdims=True))
            x = e / e.sum(axis=-1, keepdims=True)
        elif t == "maxpool2d":
            x = pool(x, layer["kernel_size"], layer.get("stride", layer["kernel_size"]), np.max)
        elif t == "avgpool2d":
            x = pool(x, layer["kernel_size"], layer.get("stride", layer["kernel_size"]), np.mean)
        elif t == "flatten":
            x = x.reshape(x.shape[0], -1)
    return x


MLP = {
    "input": [-1, 64], "output": [-1, 10],
    "layers": [{"type": "dense", "weight": "fc1.weight", "bias": "fc1.bias"}, {"type": "relu"},
               {"type": "dense", "weight": "fc2.weight", "bias": "fc2.bias"}],
    "weights": {"fc1.weight": (32, 64), "fc1.bias": (32,), "fc2.weight": (10, 32), "fc2.bias": (10,)},
}
CNN = {
    "input": [-1, 1, 8, 8], "output": [-1, 10],
    "layers": [{"type": "conv2d", "weight": "conv1.weight", "bias": "conv1.bias", "stride": 1, "padding": 1},
               {"type": "relu"}, {"type": "maxpool2d", "kernel_size": 2},
               {"type": "conv2d", "weight": "conv2.weight", "bias": "conv2.bias", "stride": 2, "padding": 1},
               {"type": "tanh"}, {"type": "avgpool2d", "kernel_size": 2, "stride": 1}, {"type": "flatten"},
               {"type": "dense", "weight": "fc.weight", "bias": "fc.bias"}, {"type": "sigmoid"},
               {"type": "dense", "weight": "out.weight", "bias": "out.bias"}, {"type": "softmax"}],
    "weights": {"conv1.weight": (6, 1, 3, 3), "conv1.bias": (6,), "conv2.weight": (8, 6, 3, 3), "conv2.bias": (8,),
                "fc.weight": (16, 8), "fc.bias": (16,), "out.weight": (10, 16), "out.bias": (10,)},
}


def write_model(dir, arch, rng, dtype=np.float32):
    dir.mkdir()
    weights = {k: (rng.standard_normal(shape) * 0.5).astype(dtype) for k, shape in arch["weights"].items()}
    save_file(weights, str(dir / "weights.safetensors"), metadata={"format": "pt"})
    spec = {"format": "mlsec.model/1", "name": dir.name,
            "input": {"name": "input", "datatype": "FP32", "shape": arch["input"], "min": 0, "max": 1},
            "output": {"name": "output", "datatype": "FP32", "shape": arch["output"]},
            "layers": arch["layers"]}
    (dir / "model.json").write_text(json.dumps(spec))
    return {k: v.astype(np.float64) for k, v in weights.items()}


def write_inputs(path, x):
    rows = ["label," + ",".join(f"f{i}" for i in range(x.shape[1]))]
    rows += [f"{i % 10}," + ",".join(repr(float(v)) for v in row) for i, row in enumerate(x)]
    path.write_text("\n".join(rows) + "\n")


@pytest.mark.parametrize("name,arch,dtype", [("mlp", MLP, np.float32), ("cnn", CNN, np.float32),
                                             ("mlp-f16", MLP, np.float16)])
def test_forward_matches_numpy(tmp_path, name, arch, dtype):
    rng = np.random.default_rng(7)
    weights = write_model(tmp_path / name, arch, rng, dtype)
    x = rng.random((17, 64)).astype(np.float32)
    write_inputs(tmp_path / "x.csv", x)
    out = json.loads(mlsec("predict", "--model", tmp_path / name, "--data", tmp_path / "x.csv",
                           "--label-column", "label", "--format", "json", check=0).stdout)["outputs"]
    shape = [17] + arch["input"][1:]
    expected = reference_forward(arch["layers"], weights, x.astype(np.float64).reshape(shape))
    got = np.array(out)
    assert got.shape == expected.shape
    assert np.max(np.abs(got - expected)) <= 1e-5 * max(1.0, np.max(np.abs(expected))), np.max(np.abs(got - expected))


def test_trained_model_loads_in_python(tmp_path):
    out = tmp_path / "m"
    summary = json.loads(mlsec("train", "--data", "digits-train", "--label-column", "label", "--architecture",
                               "mlp:64-16-10", "--epochs", "3", "--seed", "5", "--out", out, check=0).stdout)
    assert summary["epochs"] == 3 and summary["examples_per_second"] > 0
    weights = {k: v.astype(np.float64) for k, v in load_file(str(out / "weights.safetensors")).items()}
    spec = json.loads((out / "model.json").read_text())
    assert weights["fc1.weight"].shape == (16, 64)
    x = np.random.default_rng(1).random((5, 64)).astype(np.float32)
    write_inputs(tmp_path / "x.csv", x)
    got = np.array(json.loads(mlsec("predict", "--model", out, "--data", tmp_path / "x.csv", "--label-column",
                                    "label", check=0).stdout)["outputs"])
    expected = reference_forward(spec["layers"], weights, x.astype(np.float64))
    assert np.max(np.abs(got - expected)) < 1e-4


def test_evaluate_and_fine_tune(tmp_path):
    base = tmp_path / "base"
    mlsec("train", "--data", "digits-train", "--label-column", "label", "--architecture", "logreg:64-10",
          "--epochs", "2", "--out", base, check=0)
    before = json.loads(mlsec("evaluate", "--model", base, "--data", "digits-test", "--label-column", "label",
                              check=0).stdout)
    assert before["n"] == 360 and 0 <= before["accuracy"] <= 1
    tuned = tmp_path / "tuned"
    mlsec("train", "--data", "digits-train", "--label-column", "label", "--init", base, "--epochs", "20",
          "--out", tuned, check=0)
    after = json.loads(mlsec("evaluate", "--model", tuned, "--data", "digits-test", "--label-column", "label",
                             check=0).stdout)
    assert after["accuracy"] > before["accuracy"]
    proc = mlsec("train", "--data", "digits-train", "--label-column", "label", "--init", base,
                 "--architecture", "mlp:64-8-10", "--epochs", "1", "--out", tmp_path / "x")
    assert proc.returncode == 2 and "does not match" in proc.stderr


BAD_CSV = {
    "ragged": ("label,a,b\n1,0.5,0.5\n2,0.5\n", "line 3"),
    "not-a-number": ("label,a,b\n1,0.5,zero\n", "line 2"),
    "nan": ("label,a,b\n1,0.5,nan\n", "line 2"),
    "bad-label": ("label,a,b\n1.5,0.5,0.5\n", "line 2"),
    "no-label-column": ("y,a,b\n1,0.5,0.5\n", "no column named"),
    "empty": ("", "empty"),
}


@pytest.mark.parametrize("case", sorted(BAD_CSV))
def test_bad_csv_rows_name_the_line(tmp_path, case):
    text, needle = BAD_CSV[case]
    (tmp_path / "d.csv").write_text(text)
    proc = mlsec("train", "--data", tmp_path / "d.csv", "--label-column", "label", "--architecture", "logreg:2-3",
                 "--epochs", "1", "--out", tmp_path / "m")
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr
    assert not (tmp_path / "m").exists()


def test_hostile_weights_file_is_refused(tmp_path):
    rng = np.random.default_rng(1)
    write_model(tmp_path / "m", MLP, rng)
    f = tmp_path / "m" / "weights.safetensors"
    data = bytearray(f.read_bytes())
    data[0:8] = (2 ** 62).to_bytes(8, "little")
    f.write_bytes(bytes(data))
    (tmp_path / "x.csv").write_text("label," + ",".join(f"f{i}" for i in range(64)) + "\n0" + ",0" * 64 + "\n")
    proc = mlsec("predict", "--model", tmp_path / "m", "--data", tmp_path / "x.csv", "--label-column", "label")
    assert proc.returncode == 2 and "header" in proc.stderr
