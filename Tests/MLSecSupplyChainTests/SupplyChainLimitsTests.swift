import MLSecSupplyChain
import Testing

@Test func documentCapIsSixtyFourMiB() {
    #expect(SupplyChainLimits.maxDocumentBytes == 64 << 20)
}
