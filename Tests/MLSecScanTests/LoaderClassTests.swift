// Issue 15's reader pieces on their own: MessagePack validation and the search for pickles hidden in junk.

import MLSecCore
import MLSecFormats
import Testing

@Suite("loader classes: msgpack, embedded pickles")
struct LoaderClassTests {
    func valid(_ bytes: [UInt8]) -> Bool { (try? bytes.withUnsafeBytes { try MsgpackReader.validate($0) }) != nil }

    @Test("MessagePack: one complete value, lengths checked against the bytes left, nesting bounded")
    func msgpack() {
        #expect(valid([0x81, 0xa1, 0x61, 0x92, 0x01, 0xcb] + [UInt8](repeating: 0, count: 8)))  // {"a": [1, 0.0]}
        #expect(valid([0xc7, 0x02, 0x01, 0xaa, 0xbb]))  // ext8 of two bytes
        #expect(!valid([]))
        #expect(!valid([0x81, 0xa1, 0x61]))  // a map missing its value
        #expect(!valid([0xc1]))  // never used
        #expect(!valid([0xdd, 0xff, 0xff, 0xff, 0xff]))  // an array of 4 billion in five bytes
        #expect(!valid([0xc6, 0x7f, 0xff, 0xff, 0xff, 0x00]))  // bin32 longer than the file
        #expect(!valid([0x01, 0x02]))  // bytes after the value
        #expect(!valid([UInt8](repeating: 0x91, count: 200) + [0x01]))  // nested deeper than the limit
        #expect(valid([UInt8](repeating: 0x91, count: 100) + [0x01]))
    }

    @Test("hidden pickles: PROTO 2-5 starts and text GLOBAL/INST imports, each import reported once")
    func embeddedSearch() {
        let junk: [UInt8] = [0xff, 0x80, 0x01, 0x80, 0x07, 0x63, 0x0a]  // PROTO 1 and 7 are not starts; "c\n" names nothing
        let text = Array("cos\nsystem\n(S'x'\ntR.".utf8)
        let proto: [UInt8] = [0x80, 0x04, 0x4b, 0x01, 0x2e]
        let bytes = junk + text + junk + proto + Array("isubprocess\nPopen\n".utf8)
        let found = bytes.withUnsafeBytes { EmbeddedPickleSearch.candidates(in: $0) }
        #expect(found == [
            .textImport(offset: junk.count, module: "os", name: "system"),
            .proto(offset: junk.count * 2 + text.count),
            .textImport(offset: junk.count * 2 + text.count + proto.count, module: "subprocess", name: "Popen"),
        ])
        let many: [UInt8] = (0..<10_000).map { $0 % 2 == 0 ? 0x80 : 0x02 }
        #expect(many.withUnsafeBytes { EmbeddedPickleSearch.candidates(in: $0, limit: 50) }.count == 50)
    }
}
