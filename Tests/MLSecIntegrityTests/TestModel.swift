// TestModel: temporary model directories for the integrity tests.

import Crypto
import Foundation
import MLSecCore

struct TestModel {
    let root: String

    /// A model with the reference fixture's shape, including the `sub/` vs `sub-notes.txt` ordering trap.
    static func make(_ files: [String: Int] = [
        "weights.bin": 2_500_000, "sub/layer1.bin": 1_048_576, "sub/empty.bin": 0, "config.json": 59,
        "sub-notes.txt": 67,
    ]) throws -> TestModel {
        let root = NSTemporaryDirectory() + "mlsec-model-\(UUID().uuidString)"
        let model = TestModel(root: root)
        for (name, size) in files { try model.write(name, bytes: counterBytes(name, size)) }
        return model
    }

    func write(_ name: String, bytes: [UInt8]) throws {
        let path = root + "/" + name
        try FileManager.default.createDirectory(atPath: FilePath.directory(of: path), withIntermediateDirectories: true)
        try AtomicFile.write(bytes, to: path)
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }

    static func counterBytes(_ name: String, _ size: Int) -> [UInt8] {
        var out: [UInt8] = []
        var i: UInt64 = 0
        while out.count < size {
            var block = Array("swift-mlsec-model-signing-fixture-v1".utf8) + Array(name.utf8)
            withUnsafeBytes(of: i.bigEndian) { block.append(contentsOf: $0) }
            out.append(contentsOf: SHA256.hash(data: block))
            i += 1
        }
        return Array(out.prefix(size))
    }
}

/// A small seeded generator (SplitMix64), so that random splits in tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
