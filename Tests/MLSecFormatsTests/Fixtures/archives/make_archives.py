"""Writes the archive and compression fixtures used by ZipArchiveTests, TarArchiveTests and DecompressorTests.

Run with `python3 make_archives.py` in this directory (standard library only). The output is deterministic.
When PyTorch is importable, it also (re)writes pytorch_duplicates.json: which of several same-named zip entries
`torch.load` really reads, the ground truth for ZipArchive.entryAsPyTorchReads, and torch_small.pt.
"""

import bz2
import gzip
import io
import json
import lzma
import pickle
import random
import tarfile
import warnings
import zipfile
import zlib

DATE = (2024, 1, 2, 3, 4, 6)
TEXT = b"The quick brown fox jumps over the lazy dog.\n" * 40


def info(name, compress=zipfile.ZIP_STORED):
    zi = zipfile.ZipInfo(name, date_time=DATE)
    zi.compress_type = compress
    zi.external_attr = 0o100644 << 16
    return zi


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


class Unseekable(io.RawIOBase):
    """A write-only stream without seek/tell, which makes zipfile write data descriptors (flag bit 3)."""

    def __init__(self):
        self.buffer = bytearray()

    def writable(self):
        return True

    def write(self, b):
        self.buffer += b
        return len(b)


def zips():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(info("model/"), b"")
        z.writestr(info("model/stored.txt"), TEXT)
        z.writestr(info("model/deflated.txt", zipfile.ZIP_DEFLATED), TEXT)
        z.writestr(info("model/empty.bin"), b"")
        z.writestr(info("model/naïve-ünïcode.txt", zipfile.ZIP_DEFLATED), "grüße\n".encode())
    write("python_basic.zip", buf.getvalue())

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, method in (("big/a.bin", zipfile.ZIP_STORED), ("big/b.txt", zipfile.ZIP_DEFLATED)):
            with z.open(info(name, method), "w", force_zip64=True) as f:
                f.write(TEXT)
    write("python_zip64.zip", buf.getvalue())

    stream = Unseekable()
    with zipfile.ZipFile(stream, "w") as z:
        z.writestr(info("stream/stored.txt"), TEXT)
        z.writestr(info("stream/deflated.txt", zipfile.ZIP_DEFLATED), TEXT)
    write("python_descriptor.zip", bytes(stream.buffer))

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(info("c/bzip2.txt", zipfile.ZIP_BZIP2), TEXT)
        z.writestr(info("c/lzma.txt", zipfile.ZIP_LZMA), TEXT)
    write("python_methods.zip", buf.getvalue())


def tars():
    def add(t, name, data=b"", kind=tarfile.REGTYPE, link=""):
        ti = tarfile.TarInfo(name)
        ti.mtime = 1_700_000_000
        ti.type = kind
        ti.linkname = link
        ti.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
        ti.size = len(data) if kind == tarfile.REGTYPE else 0
        t.addfile(ti, io.BytesIO(data) if kind == tarfile.REGTYPE else None)

    long_name = "checkpoint/" + "deep/" * 30 + "storages"
    for fmt, path in ((tarfile.USTAR_FORMAT, "python_ustar.tar"), (tarfile.GNU_FORMAT, "python_gnu.tar"),
                      (tarfile.PAX_FORMAT, "python_pax.tar")):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
            add(t, "checkpoint", kind=tarfile.DIRTYPE)
            add(t, "checkpoint/pickle", TEXT)
            add(t, "checkpoint/tensors", b"\x00\x01\x02" * 100)
            add(t, "checkpoint/link", kind=tarfile.SYMTYPE, link="pickle")
            add(t, "checkpoint/hard", kind=tarfile.LNKTYPE, link="checkpoint/pickle")
            if fmt != tarfile.USTAR_FORMAT:
                add(t, long_name, b"long name\n")
            if fmt == tarfile.PAX_FORMAT:
                add(t, "checkpoint/ünïcode.txt", b"pax\n")
        write(path, buf.getvalue())


def compressed():
    write("text.gz", gzip.compress(TEXT, mtime=0))
    write("multi.gz", gzip.compress(TEXT[:100], mtime=0) + gzip.compress(TEXT[100:], mtime=0))
    write("text.zlib", zlib.compress(TEXT, 9))
    write("text.bz2", bz2.compress(TEXT))
    write("text.xz", lzma.compress(TEXT, format=lzma.FORMAT_XZ))
    write("text.lzma", lzma.compress(TEXT, format=lzma.FORMAT_ALONE))
    write("text.txt", TEXT)
    zeros = bytes(20 << 20)
    write("zeros.gz", gzip.compress(zeros, compresslevel=9, mtime=0))
    write("zeros.bz2", bz2.compress(zeros, 9))
    write("zeros.xz", lzma.compress(zeros, format=lzma.FORMAT_XZ))


def bombs():
    """A real deflate bomb: 20 MiB of zeros deflated at level 9, a ratio just over 1000:1."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(info("bomb/zeros.bin", zipfile.ZIP_DEFLATED), bytes(20 << 20), compresslevel=9)
    write("bomb_1000x.zip", buf.getvalue())


def pytorch_duplicates():
    """Zip archives whose data.pkl appears several times (in several ASCII cases); records the entry torch.load reads."""
    try:
        import torch
    except ImportError:
        print("torch not importable: pytorch_duplicates.json and torch_small.pt left as they are")
        return
    warnings.simplefilter("ignore")
    rng = random.Random(20240102)
    cases = []
    for _ in range(200):
        items = [("archive/version", None)]
        for i in range(rng.randint(0, 6)):
            items.append((f"archive/{rng.choice(['a', 'z', 'data', 'e', 'Data.pkl2', 'DATA'])}{i}", -1))
        for copy in range(rng.randint(2, 5)):
            items.append((rng.choice(["archive/data.pkl", "archive/data.pkl", "archive/DATA.PKL", "archive/Data.pkl"]), copy))
        rng.shuffle(items)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            for name, value in items:
                z.writestr(info(name), b"3\n" if value is None else pickle.dumps(value, protocol=2))
        loaded = torch.load(io.BytesIO(buf.getvalue()))
        read_index = [v for _, v in items].index(loaded)
        cases.append({"names": [n for n, _ in items], "torchReads": read_index})
    with open("pytorch_duplicates.json", "w") as f:
        json.dump({"torch": torch.__version__, "lookup": "archive/data.pkl", "cases": cases}, f, separators=(",", ":"))
    buf = io.BytesIO()
    torch.manual_seed(0)
    torch.save({"weight": torch.arange(6, dtype=torch.float32).reshape(2, 3), "step": 7}, buf)
    write("torch_small.pt", buf.getvalue())


if __name__ == "__main__":
    zips()
    tars()
    compressed()
    bombs()
    pytorch_duplicates()
