// `--architecture` text that is not a known form says so and lists the forms (issue 16).

import MLSecCore
import MLSecEngine
import Testing

@Suite struct ArchitectureErrorTests {
    @Test("unknown forms, missing colons and bad sizes each name the problem and list the forms",
          arguments: [("cnn:1", "the form \"cnn\" is not known"), ("mlp64", "neither a known form"),
                      ("mlp:64", "sizes must be"), ("mlp:64--10", "sizes must be"), ("logreg:", "sizes must be")])
    func listsTheForms(_ text: String, _ needle: String) {
        #expect { try Architecture.spec(from: text) } throws: { error in
            guard let error = error as? MLSecError, error.code == .usage else { return false }
            return error.message.contains(needle) && error.message.contains(Architecture.forms)
        }
    }

    @Test func knownFormsStillParse() throws {
        #expect(try Architecture.spec(from: "mlp:64-128-10").layers.count == 3)
        #expect(try Architecture.spec(from: "logreg:64-10").layers.count == 1)
    }
}
