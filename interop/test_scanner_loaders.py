"""The scanner's verdicts on issue 15's classes (interop/scan_corpus/loader_classes.py) next to what real loaders in
this venv do with the same files: Python's tarfile extraction filter, zipfile, NumPy, safetensors, gguf, msgpack
and pickle. Only benign samples are ever loaded; malicious ones are only scanned."""
import io
import json
import pathlib
import pickle
import subprocess
import sys
import tarfile
import zipfile

import msgpack
import numpy as np
import pytest

from conftest import ROOT, mlsec


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("loader-corpus")
    subprocess.run([sys.executable, str(ROOT / "interop" / "scan_corpus" / "make_corpus.py"), str(out)], check=True,
                   capture_output=True)
    proc = mlsec("scan", out / "loaders", "--format", "json")
    report = {str(pathlib.Path(f["path"]).relative_to(out)): f for f in json.loads(proc.stdout)["files"]}
    return out, report


def verdict(report, rel):
    return report[rel]["verdict"]


def test_tar_slip_verdicts_match_pythons_extraction_filter(corpus, tmp_path):
    """tarfile's `data` filter (PEP 706) refuses exactly the members the scanner calls zip-slip."""
    out, report = corpus
    tars = sorted((out / "loaders").glob("tar_*.tar"))
    assert len(tars) == 4
    for path in tars:
        rel = str(path.relative_to(out))
        refused = False
        with tarfile.open(path) as tar:
            for member in tar.getmembers():
                try:
                    tarfile.data_filter(member, str(tmp_path / "dest"))
                except tarfile.FilterError:
                    refused = True
        assert refused == (verdict(report, rel) == "unsafe"), (rel, refused, report[rel]["findings"])


def test_damaged_zips_are_judged_by_content_although_strict_readers_refuse_them(corpus):
    """Python's zipfile refuses the damaged archives (bad CRC, encryption flag, a local name that differs); PyTorch's
    reader does not check those, so the scanner judges the pickle inside: unsafe when it is, malformed otherwise."""
    out, report = corpus
    for label in ("crc_mismatch", "encrypted_flag", "local_header_name"):
        benign = out / "loaders" / f"damaged_zip_{label}_benign.pt"
        with pytest.raises((zipfile.BadZipFile, RuntimeError, NotImplementedError)):
            with zipfile.ZipFile(benign) as z:
                z.read("archive/data.pkl")
        assert verdict(report, f"loaders/damaged_zip_{label}_benign.pt") == "malformed"
        assert verdict(report, f"loaders/damaged_zip_{label}_malicious.pt") == "unsafe"


def test_claimed_formats_that_real_loaders_refuse_are_malformed(corpus):
    out, report = corpus
    claims = out / "loaders" / "claims"
    with pytest.raises(ValueError):
        np.load(claims / "text.npy", allow_pickle=False)
    from safetensors.numpy import load_file
    with pytest.raises(Exception):
        load_file(str(claims / "header_not_json.safetensors"))
    with pytest.raises(Exception):
        load_file(str(claims / "empty.safetensors"))
    import gguf
    with pytest.raises(Exception):
        gguf.GGUFReader(claims / "wrong_magic.gguf")
    with pytest.raises(Exception):
        pickle.loads((claims / "pickle_protocol_9.pkl").read_bytes())
    for name in ("text.npy", "header_not_json.safetensors", "empty.safetensors", "wrong_magic.gguf",
                 "pickle_protocol_9.pkl", "empty.pt", "png_named.pth", "text.onnx",
                 "pytorch_zip_without_data_pkl.pt", "data_pkl_not_under_first_folder.pt", "truncated.msgpack"):
        assert verdict(report, f"loaders/claims/{name}") == "malformed", (name, report[f"loaders/claims/{name}"])
    # MessagePack: the real reader agrees on the good and the truncated file.
    assert msgpack.unpackb((claims / "flax_model.msgpack").read_bytes(), strict_map_key=False)["params"]["w"].code == 1
    with pytest.raises(Exception):
        msgpack.unpackb((claims / "truncated.msgpack").read_bytes())
    assert verdict(report, "loaders/claims/flax_model.msgpack") == "clean"
    # Files that claim no model format stay "unsupported" (exit 0) unless --strict.
    for name in ("README.md", "config.json"):
        assert verdict(report, f"loaders/claims/{name}") == "unsupported"
    assert mlsec("scan", claims / "README.md").returncode == 0
    assert mlsec("scan", claims / "README.md", "--strict").returncode == 1


def test_benign_pickle_streams_load_in_full_and_are_clean(corpus):
    """pickle.load called until the end reads every pickle of a benign stream; the scanner judges each one."""
    out, report = corpus
    data = (out / "loaders" / "streams" / "three_benign_pickles.pkl").read_bytes()
    f, values = io.BytesIO(data), []
    while f.tell() < len(data):
        values.append(pickle.load(f))
    assert values == [1, {"a": [1, 2]}, "x"]
    assert verdict(report, "loaders/streams/three_benign_pickles.pkl") == "clean"
    # The legacy torch.save layout: the first three pickles are plain values a stock unpickler reads.
    legacy = io.BytesIO((out / "loaders" / "streams" / "legacy_torch_save.pt").read_bytes())
    assert pickle.load(legacy) == 0x1950a86a20f9469cfc6c and pickle.load(legacy) == 1001
    assert pickle.load(legacy)["protocol_version"] == 1001
    assert verdict(report, "loaders/streams/legacy_torch_save.pt") == "clean"
