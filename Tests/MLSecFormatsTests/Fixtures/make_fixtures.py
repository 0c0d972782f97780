# Regenerates the interop fixtures with the Python safetensors package (0.8.0) and numpy (2.4.6):
#   python make_fixtures.py   (run inside this directory)
# The expected values in SafetensorsTests.swift are the float32 bit patterns numpy gives for these tensors.
import numpy as np
from safetensors import TensorSpec, serialize
from safetensors.numpy import save_file

half_bits = np.array([0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0400, 0x3C00, 0xBC00, 0x3555, 0x7BFF,
                      0xFBFF, 0x7C00, 0xFC00, 0x7E00, 0x7C01, 0xFE00, 0x1234, 0x0200], dtype=np.uint16)
tensors = {
    "weight": (np.arange(6, dtype=np.float32) * 0.25 - 0.5).reshape(2, 3),
    "half": half_bits.view(np.float16),
    "double": np.array([1.0 / 3.0, -2.5e-40, 1e39, -1e-300, 3.4028234663852886e38, np.pi], dtype=np.float64),
    "long": np.array([0, -1, 2**53 + 1, -(2**63), 2**63 - 1, 16777217], dtype=np.int64).reshape(3, 2),
    "scalar": np.array(7.5, dtype=np.float32),
    "empty": np.zeros((0, 4), dtype=np.float32),
}
save_file(tensors, "python_mixed.safetensors", metadata={"format": "np", "note": "made by make_fixtures.py"})

# numpy has no bfloat16; write its bit patterns through the low-level serializer.
bf16_bits = np.array([0x0000, 0x8000, 0x0001, 0x807F, 0x0080, 0x3F80, 0xC0A0, 0x4049, 0x7F7F, 0xFF7F,
                      0x7F80, 0xFF80, 0x7FC0, 0x7F81], dtype=np.uint16)
i32 = np.array([-2147483648, 2147483647, 123456789], dtype=np.int32)
specs = {
    "bf16": TensorSpec(dtype="bfloat16", shape=[2, 7], data_ptr=bf16_bits.ctypes.data, data_len=bf16_bits.nbytes),
    "i32": TensorSpec(dtype="int32", shape=[3], data_ptr=i32.ctypes.data, data_len=i32.nbytes),
}
with open("python_bf16.safetensors", "wb") as f:
    f.write(bytes(serialize(specs, metadata=None)))

def swift_bits(name, values):
    bits = np.asarray(values, dtype=np.float32).reshape(-1).view(np.uint32)
    print(f"    static let {name}: [UInt32] = [" + ", ".join(f"0x{b:08X}" for b in bits) + "]")

swift_bits("weight", tensors["weight"])
swift_bits("half", tensors["half"].astype(np.float32))
swift_bits("double", tensors["double"].astype(np.float32))
swift_bits("long", tensors["long"].astype(np.float32))
swift_bits("bf16", (bf16_bits.astype(np.uint32) << 16).view(np.float32))
swift_bits("i32", i32.astype(np.float32))
