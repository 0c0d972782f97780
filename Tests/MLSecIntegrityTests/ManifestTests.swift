// Tests of resource ordering, statement parsing and manifest comparison.

import Foundation
import MLSecCore
import MLSecIntegrity
import Testing

@Suite struct ManifestTests {
    @Test func ordersByPathParts() {
        let names = ["sub-notes.txt", "sub/layer1.bin", "config.json", "sub/empty.bin", "weights.bin", "a", "a/b", "a-b"]
        let sorted = names.sorted(by: ResourcePath.precedes)
        #expect(sorted == ["a", "a/b", "a-b", "config.json", "sub/empty.bin", "sub/layer1.bin", "sub-notes.txt", "weights.bin"])
    }

    @Test func ordersShardsNumerically() {
        let a = ManifestItem(path: "w", range: 96..<99, algorithm: "x", digest: [])
        let b = ManifestItem(path: "w", range: 99..<102, algorithm: "x", digest: [])
        #expect(ManifestItem.precedes(a, b))
        #expect(!ManifestItem.precedes(b, a))
    }

    @Test(arguments: ["", "/etc/passwd", "../x", "a/../b", "a//b", "a/./b", "a\\b", "a/"])
    func refusesUnsafeResourcePaths(_ path: String) {
        #expect(throws: MLSecError.self) { try ResourcePath.validate(path, context: "t") }
    }

    @Test func statementRoundTripsAndChecksTheRoot() throws {
        let items = [
            ManifestItem(path: "a.bin", algorithm: "sha256", digest: [UInt8](repeating: 1, count: 32)),
            ManifestItem(path: "b.bin", algorithm: "sha256", digest: [UInt8](repeating: 2, count: 32)),
        ]
        let manifest = Manifest(modelName: "m", serialization: Serialization(method: .files, hash: .sha256), items: items,
                                fileStamps: ["a.bin": FileStamp(size: 1, modificationTimeNanoseconds: 1_700_000_000_123_456_789)])
        let json = InTotoStatement.json(for: manifest)
        let back = try InTotoStatement.manifest(from: JSONParser().parse(JSONWriter.bytes(json)))
        #expect(back == manifest)
        // Swap two digests: the subject's root digest no longer matches.
        let text = JSONWriter.string(json).replacingOccurrences(of: String(repeating: "01", count: 32), with: String(repeating: "03", count: 32))
        #expect(throws: MLSecError.self) { try InTotoStatement.manifest(from: JSONParser().parse(Array(text.utf8))) }
    }

    @Test func serializationAcceptsFloatShardSizeAndBlake2Alias() throws {
        let json = try JSONParser().parse(Array(#"{"method":"shards","hash_type":"blake2","shard_size":1000000000.0,"allow_symlinks":false}"#.utf8))
        let s = try Serialization(json: json)
        #expect(s.method == .shards(shardSize: 1_000_000_000))
        #expect(s.hash == .blake2b)
        #expect(s.itemAlgorithmName == "blake2b-sharded-1000000000")
    }

    @Test func serializationRefusesTinyShards() throws {
        let json = try JSONParser().parse(Array(#"{"method":"shards","hash_type":"sha256","shard_size":1,"allow_symlinks":false}"#.utf8))
        #expect(throws: MLSecError.self) { try Serialization(json: json) }
    }

    @Test func comparisonFindsEveryKindOfChange() {
        func item(_ p: String, _ d: UInt8) -> ManifestItem {
            ManifestItem(path: p, algorithm: "sha256", digest: [UInt8](repeating: d, count: 32))
        }
        let s = Serialization(method: .files, hash: .sha256)
        let expected = Manifest(modelName: "m", serialization: s, items: [item("a", 1), item("b", 2), item("c", 3), item("d", 4)])
        let actual = Manifest(modelName: "m", serialization: s, items: [item("a", 1), item("b", 9), item("c2", 3), item("e", 5)])
        let changes = ManifestComparison(expected: expected, actual: actual)
        #expect(changes.modified == ["b"])
        #expect(changes.renamed == [.init(from: "c", to: "c2")])
        #expect(changes.removed == ["d"])
        #expect(changes.added == ["e"])
    }
}
