"""Writes the pickle fixtures for PickleEmulatorTests.swift, and expected.json with what CPython's own
pickletools.genops sees in each: the count of every opcode and every import (offset, opcode, module, name).

Run from this directory: PYTHONHASHSEED=0 python3 make_pickles.py
(the seed fixes the order of set elements, so that the output is the same on every run). The checked-in files
were written by CPython 3.11.7 on Linux.

The fixtures are data only. The one call they contain is echo_p2.pkl's os.system('echo harmless') (written as
posix.system on Linux); the tests never load any of them, and neither does this script.
"""

import collections
import copyreg
import json
import os
import pickle
import pickletools


class Point:
    """A plain object: pickled with NEWOBJ (or copyreg._reconstructor) and BUILD."""

    def __init__(self, x, y):
        self.x = x
        self.y = y


class Slotted:
    """An object with __slots__: its state is (None, slot dict)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __getstate__(self):
        return (None, {"value": self.value})

    def __setstate__(self, state):
        self.value = state[1]["value"]


class WithKeywords:
    """An object made with keyword arguments: NEWOBJ_EX from protocol 4."""

    def __new__(cls, base, *, scale=1):
        self = super().__new__(cls)
        self.base = base
        self.scale = scale
        return self

    def __getnewargs_ex__(self):
        return (self.base,), {"scale": self.scale}


class Storage:
    """Stands for a tensor storage; saved by persistent id, as PyTorch does."""

    def __init__(self, key):
        self.key = key


class Echo:
    """Reduces to os.system('echo harmless'): the classic pickle payload, harmless."""

    def __reduce__(self):
        return (os.system, ("echo harmless",))


def rich_object():
    recursive_list = []
    recursive_list.append(recursive_list)
    inner = []
    recursive_tuple = (inner,)
    inner.append(recursive_tuple)
    shared = "a shared string"
    many = [f"item-{i}" for i in range(300)]
    return {
        "none": None,
        "bools": [True, False],
        "ints": [0, 1, 255, 256, 65535, 65536, -1, 2**31 - 1, -(2**31), 2**40, -(2**63), 2**64, 2**2100],
        "floats": [0.0, 1.5, -2.25e10, float("inf")],
        "strs": ["", "a", "ascii text", "\u00fcn\u00efc\u00f6d\u00e9 \u2603", "x" * 300, "line\nbreak\\back"],
        "bytes": [b"", b"abc", bytes(300)],
        "bytearray": bytearray(b"xyz"),
        "tuples": [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)],
        "set": {1, 2, 3},
        "frozenset": frozenset({"a", "b"}),
        "dict1": {"only": 1},
        "list1": [42],
        "nested": {"a": [{"b": (1, [2])}]},
        "point": Point(1, 2),
        "slotted": Slotted(3),
        "keywords": WithKeywords(5, scale=2),
        "recursive_list": recursive_list,
        "recursive_tuple": recursive_tuple,
        "shared": [shared, shared],
        "many": many + many,
    }


class PersistentPickler(pickle.Pickler):
    def __init__(self, file, protocol):
        super().__init__(file, protocol=protocol)
        self.text_ids = protocol == 0

    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            if self.text_ids:
                return f"storage-{obj.key}"
            return ("storage", "FloatStorage", obj.key, "cpu", 4)
        return None


def persistent(protocol):
    import io

    out = io.BytesIO()
    PersistentPickler(out, protocol=protocol).dump({"weight": Storage("0"), "bias": Storage("1")})
    return out.getvalue()


def extensions():
    copyreg.add_extension("collections", "OrderedDict", 1)
    copyreg.add_extension("collections", "Counter", 0x1234)
    copyreg.add_extension("collections", "deque", 0x12345)
    try:
        return pickle.dumps([collections.OrderedDict, collections.Counter, collections.deque], protocol=2)
    finally:
        copyreg.remove_extension("collections", "OrderedDict", 1)
        copyreg.remove_extension("collections", "Counter", 0x1234)
        copyreg.remove_extension("collections", "deque", 0x12345)


def out_of_band():
    return pickle.dumps(
        [pickle.PickleBuffer(b"read-only"), pickle.PickleBuffer(bytearray(b"writable"))],
        protocol=5,
        buffer_callback=lambda buffer: False,
    )


STRING_OPCODES = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"}


def expected(data):
    """Opcode counts, and imports with STACK_GLOBAL names followed through the memo (enough for pickler output)."""
    histogram = collections.Counter()
    imports = []
    memo = {}
    recent = []  # the values pushed most recently: strings, or None for anything else
    for op, arg, pos in pickletools.genops(data):
        histogram[op.name] += 1
        if op.name == "GLOBAL" or op.name == "INST":
            module, name = arg.split(" ", 1)
            imports.append([pos, op.name, module, name])
        elif op.name == "STACK_GLOBAL":
            imports.append([pos, op.name, recent[-2], recent[-1]])
        if op.name in STRING_OPCODES:
            recent.append(arg)
        elif op.name in ("BINGET", "LONG_BINGET", "GET"):
            recent.append(memo.get(arg))
        elif op.name == "MEMOIZE":
            memo[len(memo)] = recent[-1] if recent else None
        elif op.name in ("BINPUT", "LONG_BINPUT", "PUT"):
            memo[arg] = recent[-1] if recent else None
        elif op.stack_after:
            recent.append(None)
    return {"size": len(data), "histogram": dict(sorted(histogram.items())), "imports": imports}


def main():
    fixtures = {f"rich_p{protocol}.pkl": pickle.dumps(rich_object(), protocol=protocol) for protocol in range(6)}
    fixtures["persistent_p0.pkl"] = persistent(0)
    fixtures["persistent_p2.pkl"] = persistent(2)
    fixtures["extensions_p2.pkl"] = extensions()
    fixtures["out_of_band_p5.pkl"] = out_of_band()
    fixtures["echo_p2.pkl"] = pickle.dumps(Echo(), protocol=2)
    summary = {}
    for name, data in sorted(fixtures.items()):
        with open(name, "wb") as f:
            f.write(data)
        summary[name] = expected(data)
    with open("expected.json", "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
        f.write("\n")
    covered = set()
    for entry in summary.values():
        covered |= set(entry["histogram"])
    missing = sorted(op.name for op in pickletools.opcodes if op.name not in covered)
    print("opcodes not produced by CPython here (hand-assembled in the tests):", ", ".join(missing))


if __name__ == "__main__":
    main()
