// FuzzTarget: libFuzzer entry point for MLSec's untrusted-format readers (built by scripts/fuzz.sh).
// One binary per reader, chosen at compile time: -D FUZZ_PICKLE, -D FUZZ_SAFETENSORS or -D FUZZ_ZIP.

import MLSecFormats

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    #if FUZZ_PICKLE
    _ = PickleEmulator(limits: PickleLimits(maxOpcodes: 200_000)).analyze(bytes: bytes)
    #elseif FUZZ_SAFETENSORS
    if let file = try? SafetensorsFile(bytes: bytes) {
        for tensor in file.header.tensors.prefix(8) { _ = try? file.floats(tensor.name) }
    }
    #elseif FUZZ_ZIP
    if let archive = try? ZipArchive(bytes: bytes) {
        for entry in archive.entries.prefix(8) { _ = try? archive.read(entry, maxBytes: 1 << 20) }
    }
    #endif
    return 0
}
