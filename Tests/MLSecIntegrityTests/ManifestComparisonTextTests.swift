// Tests that a manifest comparison reads as a sentence wherever it is written (issue 16: no Swift debug dumps).

import MLSecCore
import MLSecIntegrity
import Testing

@Suite struct ManifestComparisonTextTests {
    static func item(_ path: String, _ byte: UInt8) -> ManifestItem {
        ManifestItem(path: path, algorithm: "sha256", digest: [UInt8](repeating: byte, count: 32))
    }

    static func manifest(_ items: [ManifestItem]) -> Manifest {
        Manifest(modelName: "m", serialization: Serialization(method: .files, hash: .sha256), items: items)
    }

    @Test("a comparison interpolated into a message is a sentence naming each change")
    func describesChangesAsSentences() {
        let expected = Self.manifest([Self.item("model.json", 1), Self.item("weights.safetensors", 2), Self.item("old.txt", 3)])
        let actual = Self.manifest([Self.item("model.json", 1), Self.item("weights.safetensors", 9), Self.item("new.txt", 3),
                                    Self.item("notes.md", 4)])
        let changes = ManifestComparison(expected: expected, actual: actual)
        let text = "signature check failed: \(changes)"
        #expect(text == "signature check failed: weights.safetensors was modified; notes.md is not covered by the signature; "
                    + "old.txt was renamed to new.txt")
        #expect(String(describing: changes) == changes.summary)
        #expect(!text.contains("ManifestComparison") && !text.contains("["))
        #expect("\(ManifestComparison(expected: expected, actual: expected))" == "no changes")
    }

    @Test("many changes are listed by count, not dumped")
    func longListsAreShortened() {
        let expected = Self.manifest((0..<8).map { Self.item("f\($0)", 1) })
        let actual = Self.manifest((0..<8).map { Self.item("f\($0)", 2) })
        #expect("\(ManifestComparison(expected: expected, actual: actual))" == "f0, f1, f2, f3, f4 and 3 more were modified")
    }
}
