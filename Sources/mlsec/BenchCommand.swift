// BenchCommand: `mlsec bench`, the engine's micro-benchmarks (GEMM GFLOP/s, training examples per second).

import ArgumentParser
import Foundation
import MLSecCore
import MLSecAudit
import MLSecEngine

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks: the native engine (Benchmarks/engine/bench.py compares it with NumPy and PyTorch) and the audit log.",
        discussion: """
            Examples:
              mlsec bench gemm --sizes 256,512
              mlsec bench train --epochs 5
              mlsec bench dpsgd --epochs 30
              mlsec bench monitor --requests 100000
              mlsec bench audit --entries 20000 --proof-size 100000 --directory /tmp
            """,
        subcommands: [Gemm.self, Train.self, ExportDigits.self, Audit.self, DPSGDBench.self, MonitorBench.self])

    struct Audit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "audit",
            abstract: "Audit log: durable appends per second (vs plain SQLite) and proof time at a large size.",
            discussion: """
                The defaults are a full run: 200000 timed appends, then the log is grown to 10 million entries \
                (about two minutes and a few GB of disk) in temporary databases in the current folder, removed \
                afterwards. A warning says so; give --entries, --proof-size and --directory for a shorter run \
                elsewhere.

                Examples:
                  mlsec bench audit --entries 20000 --proof-size 100000 --directory /tmp
                  mlsec bench audit --directory /var/tmp        # the full run
                """)

        static let defaultEntries = 200_000
        static let defaultProofSize: UInt64 = 10_000_000

        @Option(help: "Entries appended in the throughput test (default 200000).") var entries: Int?
        @Option(help: "Entries per durable batch (transaction).") var batch: Int = 1000
        @Option(name: .customLong("proof-size"), help: "Log size at which proofs are timed (default 10000000).") var proofSize: UInt64?
        @Option(help: "Proofs of each kind timed (median reported).") var proofs: Int = 2000
        @Option(help: "Directory for the temporary databases (default: the current folder).") var directory: String?

        func run() async throws {
            let entries = entries ?? Self.defaultEntries
            let proofSize = proofSize ?? Self.defaultProofSize
            let directory = directory ?? "."
            guard entries > 0, batch > 0, proofSize >= UInt64(entries), proofs > 0 else {
                throw MLSecError.usage("need entries > 0, batch > 0, proofs > 0 and proof-size >= entries")
            }
            if self.entries == nil || self.proofSize == nil || self.directory == nil {
                let minutes = max(1, Int((Double(proofSize) / 5_000_000).rounded()))
                Terminal.warning(
                    "benchmarking with \(entries) timed appends and a log grown to \(proofSize) entries "
                        + "(about \(minutes) minute(s) at full size) in temporary databases in "
                        + "\(directory == "." ? "the current folder" : directory) (removed afterwards); "
                        + "give --entries, --proof-size and --directory to choose")
            }
            let r = try AuditLogBenchmark.run(
                directory: directory, appendEntries: entries, batch: batch, proofSize: proofSize, proofs: proofs,
                progress: { Terminal.note($0) })
            func fixed(_ v: Double, _ digits: Int = 1) -> JSONValue { .number(String(format: "%.\(digits)f", v)) }
            printJSON(.object([
                ("batch", .int(r.batch)),
                ("appends_per_second", fixed(r.appendsPerSecond, 0)),
                ("baseline_sqlite_per_second", fixed(r.baselinePerSecond, 0)),
                ("ratio_to_baseline", fixed(r.appendsPerSecond / r.baselinePerSecond, 2)),
                ("ratio_to_goal_50000", fixed(r.appendsPerSecond / 50_000, 2)),
                ("proof_size", .int(Int(r.proofSize))),
                ("build_seconds", fixed(r.buildSeconds)),
                ("inclusion_proof_us_median", fixed(r.inclusionMicroseconds)),
                ("consistency_proof_us_median", fixed(r.consistencyMicroseconds)),
                ("proof_goal_us", .int(1000)),
            ]))
        }
    }

    struct Gemm: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gemm",
            abstract: "Square float32 matrix multiply, GFLOP/s (median).",
            discussion: """
                Example:
                  mlsec bench gemm --sizes 256,512,1024 --repeats 5
                """)

        @Option(help: "Comma-separated square sizes.") var sizes: String = "64,128,256,512,1024"
        @Option(help: "Repetitions per size (median reported).") var repeats: Int = 5
        @Option(help: "Threads (default: all cores).") var threads: Int?

        func run() async throws {
            let list = sizes.split(separator: ",").compactMap { Int($0) }
            guard !list.isEmpty, list.allSatisfy({ (1...4096).contains($0) }), (1...100).contains(repeats) else {
                throw MLSecError.usage("--sizes takes sizes 1...4096, --repeats 1...100")
            }
            let results = GEMM.benchmark(sizes: list, repeats: repeats, threads: threads)
            printJSON(.object([
                ("kernel", .string(GEMM.kernelName)),
                ("results", .array(results.map { .object([("size", .int($0.size)), ("gflops", .number(String(format: "%.2f", $0.gflops)))]) })),
            ]))
        }
    }

    struct Train: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "train",
            abstract: "Train an MLP on the digits training split; examples per second (median of repeats).",
            discussion: """
                Example:
                  mlsec bench train --architecture mlp:64-128-10 --epochs 10 --optimizer adam
                """)

        @Option(help: "Architecture.") var architecture: String = "mlp:64-128-10"
        @Option(help: "Epochs per repeat.") var epochs: Int = 10
        @Option(name: .customLong("batch-size")) var batchSize: Int = 32
        @Option(help: "sgd or adam.") var optimizer: OptimizerKind = .adam
        @Option(help: "Repetitions (median reported).") var repeats: Int = 3

        func run() async throws {
            guard (1...1000).contains(epochs), (1...1 << 16).contains(batchSize), (1...100).contains(repeats) else {
                throw MLSecError.usage("epochs 1...1000, batch size 1...65536, repeats 1...100")
            }
            let data = Digits.dataset(.train)
            var rates: [Double] = []
            var accuracy = 0.0
            for r in 0..<repeats {
                let spec = try Architecture.spec(from: architecture)
                var model = try Model(spec: spec, weights: try Architecture.initialWeights(for: spec, seed: UInt64(r)))
                let summary = try Trainer.train(&model, on: data, options: TrainingOptions(
                    epochs: epochs, batchSize: batchSize, optimizer: optimizer, seed: UInt64(r)))
                rates.append(summary.examplesPerSecond)
                accuracy = summary.trainingAccuracy
            }
            rates.sort()
            printJSON(.object([
                ("architecture", .string(architecture)), ("epochs", .int(epochs)), ("batch_size", .int(batchSize)),
                ("optimizer", .string(optimizer.rawValue)), ("examples", .int(data.count)),
                ("examples_per_second", .number(String(format: "%.1f", rates[rates.count / 2]))),
                ("training_accuracy", .number(String(format: "%.4f", accuracy))),
            ]))
        }
    }

    struct ExportDigits: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export-digits", abstract: "Print a digits split as JSON or CSV (for comparisons, tests, examples).",
            discussion: """
                Example:
                  mlsec bench export-digits --split train --format csv > train.csv
                """,
            shouldDisplay: false)

        @Option(help: "train, test or all.") var split = "train"
        @Option(help: "json ({\"x\": rows, \"y\": labels}) or csv (columns p0..p63 and label).") var format = "json"

        func run() async throws {
            guard let which = Digits.Split(rawValue: split) else { throw MLSecError.usage("--split is train, test or all") }
            let data = Digits.dataset(which)
            let d = data.featureCount
            if format == "csv" {
                var text = ((0..<d).map { "p\($0)" } + ["label"]).joined(separator: ",") + "\n"
                for r in 0..<data.count {
                    text += data.features[r * d..<(r + 1) * d].map { "\($0)" }.joined(separator: ",") + ",\(data.labels?[r] ?? 0)\n"
                }
                print(text, terminator: "")
                return
            }
            guard format == "json" else { throw MLSecError.usage("--format is json or csv") }
            let rows: [JSONValue] = (0..<data.count).map { r in
                .array(data.features[r * d..<(r + 1) * d].map { .number("\($0)") })
            }
            printJSON(.object([("x", .array(rows)), ("y", .array((data.labels ?? []).map { .int($0) }))]))
        }
    }
}
