"""Corpus samples for issue 15's classes: verdicts that follow what real loaders do.

- Container anomalies do not end the analysis: a member is judged as PyTorch's reader reads it (CRC and the
  encryption flag ignored, the central directory's name), so a malicious pickle in a damaged zip is unsafe.
- Entries that would be extracted outside the target folder are zip-slip: unsafe.
- A file whose name claims a model format but that does not parse as it is malformed, never "unsupported".
- Every pickle in a stream is judged by its content; the legacy (non-zip) torch.save layout is clean; bytes
  after the last pickle are a finding, and pickles hidden in them are found.

Called by make_corpus.py with its helpers; nothing here is ever unpickled or extracted.
"""
import collections
import io
import pickle
import struct
import sys
import tarfile
import types
import zipfile


def add(put, global_reduce, zip_bytes, echo):
    payload = global_reduce("os", "system", echo, 2)
    benign = pickle.dumps({"w": [1.0, 2.0]}, protocol=2)

    # ------------------------------------------------------------ container anomalies: judge the member anyway
    def patched(members, patch):
        data = bytearray(zip_bytes(members, zipfile.ZIP_STORED))
        patch(data)
        return bytes(data)

    def local_and_central(data, name):
        """Offsets of the local header and central record of the entry called `name`."""
        raw = name.encode()
        local = data.find(b"PK\x03\x04" + data[4:4])  # first local header
        while local >= 0 and bytes(data[local + 30:local + 30 + len(raw)]) != raw:
            local = data.find(b"PK\x03\x04", local + 4)
        central = data.find(b"PK\x01\x02")
        while central >= 0 and bytes(data[central + 46:central + 46 + len(raw)]) != raw:
            central = data.find(b"PK\x01\x02", central + 4)
        assert local >= 0 and central >= 0, name
        return local, central

    def bad_crc(data, name="archive/data.pkl"):
        local, central = local_and_central(data, name)
        for at in (local + 14, central + 16):
            data[at:at + 4] = struct.pack("<I", (struct.unpack("<I", data[at:at + 4])[0] ^ 0xDEADBEEF))

    def encrypted_flag(data, name="archive/data.pkl"):
        local, central = local_and_central(data, name)
        for at in (local + 6, central + 8):
            data[at] |= 0x01

    def local_name_differs(data, name="archive/data.pkl"):
        local, _ = local_and_central(data, name)
        data[local + 30:local + 30 + len(name)] = b"archive/evil.pkl"

    torch_members = lambda pkl: [("archive/data.pkl", pkl), ("archive/version", b"3\n"), ("archive/data/0", bytes(16))]
    for label, patch in [("crc_mismatch", bad_crc), ("encrypted_flag", encrypted_flag),
                         ("local_header_name", local_name_differs)]:
        put(f"loaders/damaged_zip_{label}_malicious.pt", patched(torch_members(payload), patch), "unsafe",
            ["zip-anomaly", "pickle-dangerous-callable"])
        put(f"loaders/damaged_zip_{label}_benign.pt", patched(torch_members(benign), patch), "malformed",
            ["zip-anomaly"])

    # ------------------------------------------------------------ zip-slip: unsafe whatever the entries hold
    for label, name in [("dotdot", "../../tmp/evil.txt"), ("absolute", "/etc/cron.d/evil"),
                        ("drive_letter", "C:/Windows/evil.dll"), ("backslash", "..\\..\\evil.txt"),
                        ("nested_dotdot", "archive/../../evil.txt"), ("unc_path", "\\\\server\\share\\evil")]:
        put(f"loaders/zip_slip_{label}.zip", zip_bytes([(name, b"harmless text")]), "unsafe", ["zip-slip"])

    def zip_symlink(name, target):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (0o120777 << 16)
            z.writestr(info, target)
            z.writestr("readme.txt", "x")
        return buf.getvalue()
    put("loaders/zip_slip_symlink_out.zip", zip_symlink("weights/link", "../../../etc/passwd"), "unsafe", ["zip-slip"])
    put("loaders/zip_slip_symlink_absolute.zip", zip_symlink("link", "/etc"), "unsafe", ["zip-slip"])
    put("loaders/zip_symlink_inside.zip", zip_symlink("a/b/link", "../readme.txt"), "malformed", ["zip-anomaly"])

    def tar_with(entries):
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, kind, target in entries:
                info = tarfile.TarInfo(name)
                if kind == "file":
                    info.size = len(target)
                    tar.addfile(info, io.BytesIO(target))
                else:
                    info.type = tarfile.SYMTYPE if kind == "symlink" else tarfile.LNKTYPE
                    info.linkname = target
                    tar.addfile(info)
        return out.getvalue()
    put("loaders/tar_slip_dotdot.tar", tar_with([("../evil.txt", "file", b"x")]), "unsafe", ["zip-slip"])
    put("loaders/tar_slip_symlink.tar", tar_with([("model/link", "symlink", "../../etc")]), "unsafe", ["zip-slip"])
    put("loaders/tar_slip_hardlink.tar", tar_with([("a.txt", "file", b"x"), ("link", "hardlink", "../../etc/passwd")]),
        "unsafe", ["zip-slip"])
    put("loaders/tar_symlink_inside.tar", tar_with([("m/a.txt", "file", b"x"), ("m/sub/link", "symlink", "../a.txt")]),
        "malformed", ["tar-anomaly"])

    # ------------------------------------------------------------ no silent pass for claimed model files
    put("loaders/claims/empty.pt", b"", "malformed", ["format-mismatch"])
    put("loaders/claims/empty.safetensors", b"", "malformed", ["format-mismatch"])
    put("loaders/claims/pickle_protocol_9.pkl", b"\x80\x09K\x01.", "malformed", ["pickle-malformed"])
    put("loaders/claims/png_named.pth", b"\x89PNG\r\n\x1a\n" + bytes(64), "malformed", ["format-mismatch"])
    put("loaders/claims/header_not_json.safetensors", struct.pack("<Q", 16) + b"not json at all!" + bytes(8),
        "malformed", ["format-mismatch"])
    put("loaders/claims/wrong_magic.gguf", b"GGUX" + struct.pack("<IQQ", 3, 0, 0), "malformed", ["format-mismatch"])
    put("loaders/claims/text.npy", b"just some text, not an array\n", "malformed", ["format-mismatch"])
    put("loaders/claims/text.onnx", b"hello", "malformed", ["format-mismatch"])
    put("loaders/claims/pytorch_zip_without_data_pkl.pt",
        zip_bytes([("archive/version", b"3\n"), ("archive/byteorder", b"little"), ("archive/data/0", bytes(16))]),
        "malformed", ["pytorch-missing-data-pickle"])
    put("loaders/claims/data_pkl_not_under_first_folder.pt",
        zip_bytes([("archive/version", b"3\n"), ("other/data.pkl", benign), ("archive/data/0", bytes(16))]),
        "malformed", ["pytorch-missing-data-pickle"])
    # MessagePack (Flax): {"params": {"w": ext(1, b"...")}} is clean; truncated is malformed.
    msgpack = b"\x81\xa6params\x81\xa1w\xc7\x08\x01" + bytes(8)
    put("loaders/claims/flax_model.msgpack", msgpack, "clean")
    put("loaders/claims/truncated.msgpack", msgpack[:-3], "malformed", ["msgpack-malformed"])
    put("loaders/claims/README.md", b"# a model card\n", "unsupported")
    put("loaders/claims/config.json", b'{"hidden_size": 64}\n', "unsupported")

    # ------------------------------------------------------------ pickle streams: judged by content
    put("loaders/streams/three_benign_pickles.pkl",
        pickle.dumps(1, protocol=2) + pickle.dumps({"a": [1, 2]}, protocol=4) + pickle.dumps("x", protocol=0), "clean")
    put("loaders/streams/benign_then_malicious.pkl", benign + payload, "unsafe", ["pickle-dangerous-callable"])
    junk = bytes(range(256)) * 4
    put("loaders/streams/trailing_junk.pkl", benign + b"\xff\xfe" + junk, "malformed", ["pickle-trailing-data"])
    put("loaders/streams/junk_then_protocol0_import.pkl",
        benign + b"\xff\xfe" + junk + b"cposix\nsystem\n(S'echo'\ntR." + junk, "unsafe", ["pickle-embedded"])
    put("loaders/streams/junk_then_proto4_pickle.pkl",
        benign + b"\xff\xfe" + junk + global_reduce("subprocess", "check_output", echo, 4) + junk, "unsafe",
        ["pickle-embedded"])
    put("loaders/streams/legacy_torch_save.pt", legacy_torch_save(), "clean")
    put("loaders/streams/legacy_torch_save_malicious_data.pt", legacy_torch_save(data_payload=payload), "unsafe",
        ["pickle-dangerous-callable"])
    put("loaders/streams/legacy_torch_save_then_pickle.pt", legacy_torch_save() + payload, "unsafe",
        ["pickle-dangerous-callable"])


def legacy_torch_save(data_payload=None):
    """The non-zip torch.save format (_use_new_zipfile_serialization=False), without torch: magic number,
    protocol version and sys_info pickles, the data pickle with storages as persistent ids, the sorted storage
    keys, then per storage an 8-byte element count and the raw elements. The raw bytes hold pickle-like text on
    purpose (they are tensor data, never unpickled)."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*a):
        return None
    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2

    class FloatStorage:
        pass

    class LongStorage:
        pass
    for cls in (FloatStorage, LongStorage):
        cls.__module__, cls.__qualname__ = "torch", cls.__name__
        setattr(torch, cls.__name__, cls)
    torch._utils = utils
    sys.modules["torch"], sys.modules["torch._utils"] = torch, utils
    try:
        class Tensor:
            def __init__(self, storage_type, key, numel):
                self.storage = ("storage", storage_type, key, "cpu", numel, None)
                self.numel = numel

            def __reduce_ex__(self, proto):
                return (_rebuild_tensor_v2, (self.storage, 0, (self.numel,), (1,), False, collections.OrderedDict()))

        class P(pickle.Pickler):
            def persistent_id(self, obj):
                return obj if isinstance(obj, tuple) and len(obj) == 6 and obj[0] == "storage" else None
        tensors = collections.OrderedDict([("w", Tensor(FloatStorage, "10", 8)), ("b", Tensor(FloatStorage, "2", 3)),
                                           ("step", Tensor(LongStorage, "7", 1))])
        out = io.BytesIO()
        pickle.dump(0x1950a86a20f9469cfc6c, out, protocol=2)
        pickle.dump(1001, out, protocol=2)
        pickle.dump({"protocol_version": 1001, "little_endian": True,
                     "type_sizes": {"short": 2, "int": 4, "long": 8}}, out, protocol=2)
        if data_payload is None:
            P(out, protocol=2).dump(tensors)
        else:
            out.write(data_payload)
        keys = sorted(["10", "2", "7"])
        pickle.dump(keys, out, protocol=2)
        sizes = {"10": (8, 4), "2": (3, 4), "7": (1, 8)}
        for key in keys:
            numel, element = sizes[key]
            raw = (b"cos\nsystem\n(S'x'\ntR." * 4)[:numel * element]
            out.write(struct.pack("<q", numel) + raw)
    finally:
        del sys.modules["torch"], sys.modules["torch._utils"]
    return out.getvalue()
