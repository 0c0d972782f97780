// TestSupport: helpers shared by the archive and compression tests.

import Foundation
import MLSecCore
import MLSecFormats
import Testing

func archiveFixturePath(_ name: String) throws -> String {
    let url = try #require(Bundle.module.url(forResource: "Fixtures/archives/\(name)", withExtension: nil))
    return url.path
}

func archiveFixture(_ name: String) throws -> [UInt8] {
    try [UInt8](Data(contentsOf: URL(fileURLWithPath: archiveFixturePath(name))))
}

/// Expects `body` to throw an ``MLSecError`` with `code` whose message contains every fragment.
func expectError(
    _ code: MLSecError.Code, _ fragments: String..., sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) {
    let error = #expect(throws: MLSecError.self, sourceLocation: sourceLocation) { try body() }
    #expect(error?.code == code, "\(String(describing: error))", sourceLocation: sourceLocation)
    for fragment in fragments {
        #expect(
            error?.message.contains(fragment) == true, "\(error?.message ?? "") lacks \(fragment)",
            sourceLocation: sourceLocation)
    }
}

/// A seeded SplitMix64 generator, so that the mutation tests are reproducible.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

