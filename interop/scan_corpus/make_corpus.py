#!/usr/bin/env python3
"""Builds the scanner's test corpus: malicious samples for each technique and protocol, benign models of each
kind, and malformed files. Writes OUT/expected.json: {relative path: {"verdict": ..., "rules": [...]}}.

No sample runs anything beyond a harmless `echo`; the malicious pickles are assembled so that loading them
*would* call the listed callable, which is what the scanner must detect. Nothing here is ever unpickled.

Usage: make_corpus.py OUT_DIR
"""
import bz2
import gzip
import io
import json
import lzma
import os
import pickle
import struct
import sys
import tarfile
import types
import zipfile
import zlib

import numpy as np

OUT = sys.argv[1] if len(sys.argv) > 1 else "corpus"
EXPECTED = {}


def put(rel, data, verdict, rules=()):
    path = os.path.join(OUT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    EXPECTED[rel] = {"verdict": verdict, "rules": list(rules)}


# ---------------------------------------------------------------- malicious pickles, hand-assembled
def global_reduce(module, name, arg, proto):
    """GLOBAL module name + (arg,) + REDUCE, at a given protocol header."""
    head = b"\x80" + bytes([proto]) if proto >= 2 else b""
    return head + b"c" + module.encode() + b"\n" + name.encode() + b"\n" + b"(" + \
        b"V" + arg.encode() + b"\n" + b"tR."


ECHO = "echo mlsec-corpus"
for proto in range(0, 6):
    put(f"malicious/os_system_p{proto}.pkl", global_reduce("os", "system", ECHO, proto), "unsafe",
        ["pickle-dangerous-callable"])
put("malicious/posix_system.pkl", global_reduce("posix", "system", ECHO, 2), "unsafe", ["pickle-dangerous-callable"])
put("malicious/subprocess_popen.pkl", global_reduce("subprocess", "Popen", ECHO, 4), "unsafe", ["pickle-dangerous-callable"])
put("malicious/builtins_eval.pkl", global_reduce("builtins", "eval", "print('x')", 3), "unsafe", ["pickle-dangerous-callable"])
put("malicious/builtin_exec_py2.pkl", global_reduce("__builtin__", "exec", "print('x')", 2), "unsafe", ["pickle-dangerous-callable"])
put("malicious/pip_main.pkl", global_reduce("pip", "main", "list", 4), "unsafe", ["pickle-dangerous-callable"])
put("malicious/pkgutil_resolve_name.pkl", global_reduce("pkgutil", "resolve_name", "os:system", 4), "unsafe",
    ["pickle-dangerous-callable"])
put("malicious/asyncio_subprocess.pkl", global_reduce("asyncio.subprocess", "create_subprocess_shell", ECHO, 4),
    "unsafe", ["pickle-dangerous-callable"])
put("malicious/importlib_import_module.pkl", global_reduce("importlib", "import_module", "os", 4), "unsafe",
    ["pickle-dangerous-callable"])
put("malicious/runpy_run_path.pkl", global_reduce("runpy", "run_path", "/dev/null", 4), "unsafe",
    ["pickle-dangerous-callable"])
put("malicious/unknown_callable.pkl", global_reduce("mymodule.hidden", "do_things", "x", 4), "unsafe",
    ["pickle-unknown-callable"])

# STACK_GLOBAL with memoized strings (protocol 4)
sg = b"\x80\x04" + b"\x8c\x02os\x94\x8c\x06system\x94\x93\x94" + b"\x8c\x11" + ECHO.encode() + b"\x94\x85\x94R\x94."
put("malicious/stack_global_memo.pkl", sg, "unsafe", ["pickle-dangerous-callable"])
# STACK_GLOBAL whose module comes back through BINGET
sg2 = b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94h\x00h\x01\x93\x8c\x11" + ECHO.encode() + b"\x85R."
put("malicious/stack_global_binget.pkl", sg2, "unsafe", ["pickle-dangerous-callable"])
# unresolved STACK_GLOBAL: operands are not strings
put("malicious/stack_global_unresolved.pkl", b"\x80\x04K\x01K\x02\x93)R.", "unsafe", ["pickle-unresolved-global"])
# INST and OBJ
put("malicious/inst.pkl", b"(V" + ECHO.encode() + b"\nios\nsystem\n.", "unsafe", ["pickle-dangerous-callable"])
put("malicious/obj.pkl", b"\x80\x02(cos\nsystem\nV" + ECHO.encode() + b"\no.", "unsafe", ["pickle-dangerous-callable"])
# NEWOBJ on subprocess.Popen
put("malicious/newobj.pkl", b"\x80\x02csubprocess\nPopen\n]V" + ECHO.encode() + b"\na\x85\x81.", "unsafe",
    ["pickle-dangerous-callable"])
# BUILD with a dangerous class
put("malicious/build.pkl", b"\x80\x02cbuiltins\nexec\n)\x81}b.", "unsafe", ["pickle-dangerous-callable"])
# getattr chain: getattr(__import__('os'), 'system')
chain = b"\x80\x02cbuiltins\ngetattr\n(cbuiltins\n__import__\n(Vos\ntRVsystem\ntR(V" + ECHO.encode() + b"\ntR."
put("malicious/getattr_chain.pkl", chain, "unsafe", ["pickle-dangerous-callable"])
# dotted name
put("malicious/dotted_name.pkl", global_reduce("builtins", "__import__.__call__", "os", 4), "unsafe",
    ["pickle-dangerous-callable"])
# EXT codes
put("malicious/ext1.pkl", b"\x80\x02\x82\x01)R.", "unsafe", ["pickle-extension-code"])
put("malicious/ext2.pkl", b"\x80\x02\x83\x01\x02)R.", "unsafe", ["pickle-extension-code"])
put("malicious/ext4.pkl", b"\x80\x02\x84\x01\x02\x03\x04)R.", "unsafe", ["pickle-extension-code"])
# data after STOP: a benign pickle then a malicious one
put("malicious/data_after_stop.pkl", pickle.dumps({"a": 1}, protocol=2) + global_reduce("os", "system", ECHO, 2),
    "unsafe", ["pickle-data-after-stop", "pickle-dangerous-callable"])
# PERSID carrying a dangerous reduce nearby
put("malicious/persid_reduce.pkl", b"\x80\x02Pfoo\ncos\nsystem\n(V" + ECHO.encode() + b"\ntR.", "unsafe",
    ["pickle-dangerous-callable"])

# ---------------------------------------------------------------- containers of malicious pickles
payload = global_reduce("os", "system", ECHO, 2)


def zip_bytes(members, compression=zipfile.ZIP_DEFLATED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in members:
            z.writestr(name, data)
    return buf.getvalue()


put("malicious/pytorch_zip_data_pkl.pt", zip_bytes([("archive/data.pkl", payload), ("archive/version", b"3\n"),
                                                    ("archive/data/0", b"\0" * 64)], zipfile.ZIP_STORED),
    "unsafe", ["pickle-dangerous-callable"])
put("malicious/joblib_gzip.joblib", gzip.compress(payload), "unsafe", ["pickle-dangerous-callable"])
put("malicious/joblib_bz2.joblib", bz2.compress(payload), "unsafe", ["pickle-dangerous-callable"])
put("malicious/joblib_xz.joblib", lzma.compress(payload), "unsafe", ["pickle-dangerous-callable"])
put("malicious/joblib_zlib.joblib", zlib.compress(payload), "unsafe", ["pickle-dangerous-callable"])
put("malicious/nested_zip_in_gzip.bin", gzip.compress(zip_bytes([("inner.pkl", payload)])), "unsafe",
    ["pickle-dangerous-callable"])


def npy_object(obj_pickle):
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header = header + " " * (63 - (len(header) + 10) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + obj_pickle


put("malicious/object_array.npy", npy_object(payload), "unsafe", ["pickle-dangerous-callable"])
put("malicious/object_array.npz", zip_bytes([("arr_0.npy", npy_object(payload))]), "unsafe",
    ["pickle-dangerous-callable"])
keras_config = {"module": "keras", "class_name": "Sequential", "config": {"layers": [
    {"module": "keras.layers", "class_name": "Lambda", "config": {"name": "evil", "function": {
        "class_name": "__lambda__", "config": {"code": "YWJj", "defaults": None, "closure": None}}}}]}}
put("malicious/lambda.keras", zip_bytes([("config.json", json.dumps(keras_config).encode()),
                                         ("metadata.json", b'{"keras_version": "3.5.0"}'),
                                         ("model.weights.h5", b"")]), "unsafe", ["keras-lambda"])

# ---------------------------------------------------------------- malformed files
def zip_with_traversal():
    return zip_bytes([("../../etc/evil.pkl", pickle.dumps([1, 2], protocol=2))])


put("malformed/zip_traversal.zip", zip_with_traversal(), "unsafe", ["zip-anomaly", "zip-slip"])
put("malformed/zip_absolute.zip", zip_bytes([("/etc/passwd", b"x")]), "unsafe", ["zip-anomaly", "zip-slip"])
dup = io.BytesIO()
with zipfile.ZipFile(dup, "w") as z:
    z.writestr("archive/data.pkl", pickle.dumps({"w": 1}, protocol=2))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        z.writestr("archive/data.pkl", payload)
put("malformed/zip_duplicate_names.pt", dup.getvalue(), "unsafe", ["zip-anomaly", "pickle-dangerous-callable"])
st_good = b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'
put("malformed/safetensors_overlap.safetensors",
    struct.pack("<Q", 96) + b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}'.ljust(96) + b"\0" * 12,
    "malformed", ["safetensors-malformed"])
put("malformed/safetensors_huge_header.safetensors", struct.pack("<Q", 2 ** 62) + b"{" + b"\0" * 30, "malformed",
    ["safetensors-malformed"])
put("malformed/gguf_bad_counts.gguf", b"GGUF" + struct.pack("<IQQ", 3, 2 ** 40, 2 ** 40), "malformed",
    ["gguf-malformed"])
put("malformed/npy_bad_shape.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", 54) +
    b"{'descr': '<f4', 'fortran_order': False, 'shape': (100,), }".ljust(53) + b"\n" + b"\0" * 8, "malformed",
    ["numpy-malformed"])
put("malformed/pickle_truncated.pkl", pickle.dumps(list(range(100)), protocol=4)[:-20], "malformed",
    ["pickle-malformed"])
put("malformed/gzip_corrupt.gz", gzip.compress(b"hello" * 100)[:-12] + b"\xff" * 12, "malformed",
    ["compression-malformed"])

# ---------------------------------------------------------------- benign models
for proto in range(0, 6):
    put(f"benign/data_p{proto}.pkl", pickle.dumps({"weights": [1.0, 2.5], "name": "m", "ids": (1, 2, 3),
                                                   "tags": {"a", "b"}, "frozen": frozenset([1]), "blob": b"\x00\x01",
                                                   "ba": bytearray(b"xy"), "c": complex(1, 2), "r": range(3),
                                                   "s": slice(1, 5)}, protocol=proto), "clean")
import collections
import datetime
import decimal
import uuid
put("benign/stdlib_types.pkl", pickle.dumps([collections.OrderedDict(a=1), datetime.datetime(2024, 1, 2, 3, 4, 5),
                                             datetime.date(2024, 1, 2), datetime.timedelta(seconds=5),
                                             decimal.Decimal("1.5"), uuid.UUID(int=5),
                                             collections.defaultdict(list), collections.Counter("ab")], protocol=4),
    "clean")
arr = np.arange(12, dtype=np.float32).reshape(3, 4)
for proto in (2, 4, 5):
    put(f"benign/numpy_array_p{proto}.pkl", pickle.dumps({"w": arr, "b": np.float64(1.5), "i": np.int64(3)},
                                                          protocol=proto), "clean")
buf = io.BytesIO()
np.save(buf, arr)
put("benign/array.npy", buf.getvalue(), "clean")
buf = io.BytesIO()
np.savez(buf, a=arr, b=np.arange(5))
put("benign/arrays.npz", buf.getvalue(), "clean")
buf = io.BytesIO()
np.savez_compressed(buf, a=arr)
put("benign/arrays_compressed.npz", buf.getvalue(), "clean")


# A PyTorch-format state_dict without torch: stand-in classes whose pickled names are torch's own.
def fake_torch_state_dict(tensors, proto=2):
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*a):
        return None
    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2

    class FloatStorage:
        pass
    FloatStorage.__module__ = "torch"
    FloatStorage.__qualname__ = "FloatStorage"
    torch.FloatStorage = FloatStorage
    torch._utils = utils
    sys.modules["torch"], sys.modules["torch._utils"] = torch, utils

    class Tensor:
        def __init__(self, key, shape):
            self.key, self.shape = key, shape

        def __reduce_ex__(self, proto):
            stride = tuple(int(np.prod(self.shape[i + 1:])) for i in range(len(self.shape)))
            return (_rebuild_tensor_v2, (("storage", FloatStorage, self.key, "cpu", int(np.prod(self.shape))), 0,
                                         tuple(self.shape), stride, False, collections.OrderedDict()))

    class P(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, tuple) and len(obj) == 5 and obj[0] == "storage":
                return obj
            return None
    sd = collections.OrderedDict((name, Tensor(str(i), shape)) for i, (name, shape) in enumerate(tensors))
    out = io.BytesIO()
    P(out, protocol=proto).dump(sd)
    del sys.modules["torch"], sys.modules["torch._utils"]
    members = [("archive/data.pkl", out.getvalue()), ("archive/byteorder", b"little"), ("archive/version", b"3\n"),
               ("archive/.data/serialization_id", b"1234")]
    for i, (_, shape) in enumerate(tensors):
        members.append((f"archive/data/{i}", np.zeros(int(np.prod(shape)), dtype=np.float32).tobytes()))
    return zip_bytes(members, zipfile.ZIP_STORED)


put("benign/state_dict.pt", fake_torch_state_dict([("fc1.weight", (128, 64)), ("fc1.bias", (128,)),
                                                   ("fc2.weight", (10, 128)), ("fc2.bias", (10,))]), "clean")

# A legacy (tar) PyTorch checkpoint: sys_info, pickle, storages and tensors members. The storages and tensors
# members interleave small pickles with raw bytes; the raw bytes here include pickle-like text on purpose.
def legacy_torch_tar(storage_header=None):
    torch = types.ModuleType("torch")

    class FloatStorage:
        pass

    class FloatTensor:
        pass
    for cls in (FloatStorage, FloatTensor):
        cls.__module__, cls.__qualname__ = "torch", cls.__name__
        setattr(torch, cls.__name__, cls)
    sys.modules["torch"] = torch
    try:
        raw = b"cos\nsystem\n(S'echo'\ntR." + bytes(9)  # 32 bytes = 8 float32 elements
        storages = pickle.dumps(2, protocol=2)
        storages += pickle.dumps(("0", "cpu", FloatStorage), protocol=2) + struct.pack("<q", 8) + raw
        second = storage_header if storage_header is not None else pickle.dumps(("1", "cpu", FloatStorage), protocol=2)
        storages += second + struct.pack("<q", 2) + b"\x80\x02c" + bytes(5)
        storages += pickle.dumps([], protocol=2)
        tensors = pickle.dumps(1, protocol=2)
        tensors += pickle.dumps(("t0", "0", FloatTensor), protocol=2)
        tensors += struct.pack("<ii", 2, 0) + struct.pack("<qq", 2, 4) + struct.pack("<qq", 4, 1) + struct.pack("<q", 0)
        sys_info = pickle.dumps({"protocol_version": 1001, "little_endian": True,
                                 "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2)
        obj = pickle.dumps(collections.OrderedDict(weight="t0"), protocol=2)
    finally:
        del sys.modules["torch"]
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in [("sys_info", sys_info), ("pickle", obj), ("storages", storages), ("tensors", tensors)]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


put("benign/legacy_checkpoint.tar", legacy_torch_tar(), "clean")
put("malicious/legacy_checkpoint_storage_header.tar",
    legacy_torch_tar(storage_header=global_reduce("os", "system", ECHO, 2)), "unsafe", ["pickle-dangerous-callable"])


try:
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    import joblib
    X = np.random.default_rng(0).random((40, 4))
    y = (X[:, 0] > 0.5).astype(int)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    put("benign/sklearn_pipeline.pkl", pickle.dumps(model, protocol=4), "clean")
    put("benign/sklearn_tree.pkl", pickle.dumps(DecisionTreeClassifier().fit(X, y), protocol=5), "clean")
    class Payload:
        """Pickles as a call of os.system; it is never unpickled here, only written."""
        def __reduce__(self):
            return (os.system, (ECHO,))
    for name, kwargs in [("plain", {}), ("gzip", {"compress": ("gzip", 3)})]:
        bio = io.BytesIO()
        joblib.dump({"w": arr, "after_array": Payload()}, bio, **kwargs)
        put(f"malicious/joblib_array_then_payload_{name}.joblib", bio.getvalue(), "unsafe",
            ["pickle-dangerous-callable"])
        # Object arrays: joblib pickles them with a plain pickler inside its own stream.
        bio = io.BytesIO()
        joblib.dump({"w": arr, "objects": np.array([1, Payload()], dtype=object), "after": 2}, bio, **kwargs)
        put(f"malicious/joblib_object_array_{name}.joblib", bio.getvalue(), "unsafe", ["pickle-dangerous-callable"])
        bio = io.BytesIO()
        labels = np.array(["cat", "dog", None, 3.5], dtype=object)
        joblib.dump({"labels": labels, "w": arr, "model": model}, bio, **kwargs)
        put(f"benign/joblib_object_array_{name}.joblib", bio.getvalue(), "clean")
    for name, kwargs in [("plain", {}), ("gzip", {"compress": ("gzip", 3)}), ("xz", {"compress": ("xz", 3)}),
                         ("zlib", {"compress": ("zlib", 3)}), ("bz2", {"compress": ("bz2", 3)})]:
        bio = io.BytesIO()
        joblib.dump(model, bio, **kwargs)
        put(f"benign/joblib_{name}.joblib", bio.getvalue(), "clean")
except ImportError as e:
    raise SystemExit(f"scikit-learn and joblib are needed for the corpus: {e}")

from safetensors.numpy import save as st_save
put("benign/model.safetensors", st_save({"w": arr, "b": np.ones(3, dtype=np.float16)}), "clean")

# Chat templates (Jinja code that servers render): real ones from the test suite, and sandbox escapes.
TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "MLSecScanTests", "ChatTemplates")
with open(os.path.join(TEMPLATES, "llama-3.1-tools.jinja"), encoding="utf-8") as f:
    LLAMA31_TEMPLATE = f.read()
CVE_2024_34359 = ("{% for x in ().__class__.__base__.__subclasses__() %}{% if \"warning\" in x.__name__ %}"
                  "{{x()._module.__builtins__['__import__']('os').popen(\"" + ECHO + "\")}}{%endif%}{% endfor %}")

try:
    import gguf

    def put_gguf(rel, template, verdict, rules, extra=()):
        path = os.path.join(OUT, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        w = gguf.GGUFWriter(path, "llama")
        w.add_block_count(1)
        w.add_chat_template(template)
        for key, value in extra:
            w.add_string(key, value)
        w.add_tensor("tok_embd.weight", np.ones((4, 8), dtype=np.float32))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        EXPECTED[rel] = {"verdict": verdict, "rules": list(rules)}

    put_gguf("benign/tiny.gguf", "{% for m in messages %}{{ m.content }}{% endfor %}", "clean", ["gguf-chat-template"])
    put_gguf("benign/llama31_chat_template.gguf", LLAMA31_TEMPLATE, "clean", ["gguf-chat-template"])
    put_gguf("malicious/gguf_template_cve_2024_34359.gguf", CVE_2024_34359, "unsafe", ["template-sandbox-escape"])
    put_gguf("malicious/gguf_template_tool_use_attr.gguf",
             [{"name": "default", "template": LLAMA31_TEMPLATE},
              {"name": "tool_use", "template": "{{ messages|attr('__class__') }}"}], "unsafe", ["template-sandbox-escape"])
    put_gguf("malicious/gguf_template_unknown_call.gguf", "{{ os.system('" + ECHO + "') }}", "unsafe",
             ["template-unknown-call"])
    put_gguf("malicious/gguf_metadata_template.gguf", LLAMA31_TEMPLATE, "unsafe", ["template-sandbox-escape"],
             extra=[("general.description", "{{ cycler.__init__.__globals__.os.popen('id').read() }}")])
except ImportError as e:
    raise SystemExit(f"the gguf package is needed for the corpus: {e}")

put("benign/hf_model/tokenizer_config.json", json.dumps({"bos_token": "<s>", "chat_template": LLAMA31_TEMPLATE}).encode(),
    "clean", ["tokenizer-chat-template"])
put("malicious/hf_model/tokenizer_config.json", json.dumps({"chat_template": [
    {"name": "default", "template": LLAMA31_TEMPLATE}, {"name": "rag", "template": CVE_2024_34359}]}).encode(),
    "unsafe", ["template-sandbox-escape"])
put("malicious/hf_model/chat_template.jinja", "{{ self.__init__.__globals__ }}".encode(), "unsafe",
    ["template-sandbox-escape"])

keras_ok = {"module": "keras", "class_name": "Sequential", "config": {"layers": [
    {"module": "keras.layers", "class_name": "Dense", "config": {"units": 4, "activation": "relu"}}]}}
put("benign/dense.keras", zip_bytes([("config.json", json.dumps(keras_ok).encode()),
                                     ("metadata.json", b'{"keras_version": "3.5.0"}'), ("model.weights.h5", b"")]),
    "clean")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import loader_classes  # noqa: E402  (issue 15's classes: damaged containers, zip-slip, claims, pickle streams)
loader_classes.add(put, global_reduce, zip_bytes, ECHO)

with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump(EXPECTED, f, indent=1, sort_keys=True)
print(f"{len(EXPECTED)} samples in {OUT}")
