// Dataset CSV reading: LF and CRLF files read alike (Python's csv module writes CRLF by default), errors name the line.

import MLSecCore
import MLSecEngine
import Testing

@Suite struct DatasetCSVTests {
    @Test func crlfAndLfFilesReadAlike() throws {
        let lf = try Dataset.csv(bytes: Array("a,b,label\n1,2,0\n3,4,1\n".utf8), labelColumn: "label", context: "lf.csv")
        let crlf = try Dataset.csv(bytes: Array("a,b,label\r\n1,2,0\r\n3,4,1\r\n".utf8), labelColumn: "label", context: "crlf.csv")
        #expect(lf.features == crlf.features && lf.labels == crlf.labels && crlf.featureNames == ["a", "b"] && crlf.count == 2)
        #expect(throws: MLSecError.self) {
            try Dataset.csv(bytes: Array("a,label\r\n1,x\r\n".utf8), labelColumn: "label", context: "bad.csv")
        }
    }
}
