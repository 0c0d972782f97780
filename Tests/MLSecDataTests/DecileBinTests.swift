// DecileBinTests: the search validation uses on ascending decile edges gives the bin that counting gives, with
// ties, signed zeros and values on the edges.

import Testing
import MLSecData

struct DecileBinTests {
    @Test func searchAgreesWithCounting() {
        var state: UInt64 = 9
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        let palette: [Double] = [-3, -1, -0.0, 0, 0.5, 1, 1, 2, 7.25, 1e9]
        for _ in 0..<2000 {
            let edges = (0..<9).map { _ in palette[next(palette.count)] }.sorted()
            let values = palette + edges + (0..<20).map { _ in Double(next(2000) - 1000) / 100 }
            edges.withUnsafeBufferPointer { e in
                for v in values {
                    #expect(DatasetSchema.ascendingBin(v, edges: e.baseAddress!) == DatasetSchema.bin(v, edges: e), "\(v) in \(edges)")
                }
            }
        }
    }
}
