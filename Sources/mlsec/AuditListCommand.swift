// AuditListCommand: `mlsec audit list`, the log's entries one line each, filtered and bounded.

import ArgumentParser
import Foundation
import MLSecAudit
import MLSecCore

extension AuditCommand {
    enum DecisionFilter: String, ExpressibleByArgument, CaseIterable {
        case allow, deny, error
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List entries oldest first, one line each: index, time, actor, action, resource, decision, reason.",
            discussion: """
                Filters are exact matches and combine (all must hold); entries that are not audit events (appended \
                with --hex) match no filter. At most --limit entries are printed (default 100); when more match, \
                stderr (text) or "next_since" (json) gives the index to continue from with --since. A refusal \
                whose details are only in the audit log is found by its request id.

                Examples:
                  mlsec audit list --log audit.db --since 1200 --limit 20
                  mlsec audit list --log audit.db --decision deny --action model.deploy
                  mlsec audit list --log audit.db --request-id 7f3c9a2e --format json
                  mlsec audit list --database postgres://mlsec@db/mlsec --password-file db.pw \\
                    --actor key:3f9a0c1d
                """)
        @OptionGroup var options: LogOption
        @Option(help: "Start at this 0-based index (default 0).")
        var since: UInt64 = 0
        @Option(help: "Only entries with this action, e.g. infer or model.deploy.")
        var action: String?
        @Option(help: "Only entries by this actor, e.g. key:3f9a0c1d.")
        var actor: String?
        @Option(help: "Only entries with this decision: allow, deny or error.")
        var decision: DecisionFilter?
        @Option(name: .customLong("request-id"), help: "Only entries with this request id (as a refusal reports it).")
        var requestID: String?
        @Option(help: "Print at most this many entries (default 100, at most \(Self.maxLimit)).")
        var limit: Int = 100
        @Option(help: "Output: text (one line per entry) or json (one document; each entry's fields and index).")
        var format: OutputFormat = .text

        static let maxLimit = 10_000
        static let page = 1000

        func validate() throws {
            guard (1...Self.maxLimit).contains(limit) else { throw ValidationError("--limit must be 1...\(Self.maxLimit)") }
        }

        func run() async throws {
            let store = try await options.open()
            let size = try await store.currentSize()
            guard since <= size else {
                throw MLSecError.usage("--since \(since) is beyond the log's \(size) entries (indexes are 0...\(size > 0 ? size - 1 : 0))")
            }
            let filter = AuditEntryFilter(action: action, actor: actor, decision: decision?.rawValue, requestID: requestID)
            var shown: [AuditEntryView] = []
            var next: UInt64? = nil
            var position = since
            scan: while position < size {
                let page = try await store.entries(from: position, limit: Self.page)
                guard let last = page.last else { break }
                for (index, data) in page where filter.mayMatch(data) {
                    let view = AuditEntryView(index: index, data: data)
                    guard filter.matches(view) else { continue }
                    guard shown.count < limit else {
                        next = index
                        break scan
                    }
                    shown.append(view)
                }
                position = last.index + 1
            }
            switch format {
            case .json:
                printJSON(.object([
                    ("log_size", .int(Int(size))), ("entries", .array(shown.map(\.json))),
                    ("next_since", next.map { .int(Int($0)) } ?? .null),
                ]))
            case .text:
                var out = ""
                for view in shown { out += view.line + "\n" }
                FileHandle.standardOutput.write(Data(out.utf8))
                if let next { Terminal.note("more entries match; continue with --since \(next)") }
            }
        }
    }
}
