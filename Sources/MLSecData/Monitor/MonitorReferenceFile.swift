// MonitorReferenceFile.swift: the reference's JSON form, written by `mlsec monitor profile` (mode 0600) and read
// strictly by the gateway: size cap, closed schema, finite numbers only, every shape consistent.

import MLSecCore

extension MonitorReference {
    /// Largest reference file read.
    public static let maxFileBytes = 64 << 20

    static func number(_ v: Double) -> JSONValue { .number("\(v)") }

    public var json: JSONValue {
        .object([
            ("format", .string(Self.format)), ("version", .int(1)), ("model_digest", .string(modelDigest)), ("rows", .int(rows)),
            ("class_shares", .array(classShares.map(Self.number))),
            ("features", .array(zip(featureNames, features).map { name, f in
                .object([
                    ("name", .string(name)), ("std", Self.number(f.standardDeviation)), ("edges", .array(f.edges.map(Self.number))),
                    ("shares", .array(f.shares.map(Self.number))), ("cdf_values", .array(f.cdfValues.map(Self.number))),
                    ("cdf_shares", .array(f.cdfShares.map(Self.number))),
                ])
            })),
            ("ood", .object([
                ("centre", .array(centre.map(Self.number))), ("whitening", .array(whitening.map(Self.number))),
                ("shrinkage", Self.number(shrinkage)), ("threshold", Self.number(oodThreshold)),
                ("false_positive_rate", Self.number(oodFalsePositiveRate)), ("held_out_rows", .int(heldOutRows)),
                ("held_out_flag_rate", Self.number(heldOutFlagRate)),
            ])),
            ("typical_distance", Self.number(typicalDistance)),
        ])
    }

    /// Reads a reference file's bytes.
    /// - Throws: `MLSecError.limitExceeded` for a file over ``maxFileBytes``; `MLSecError.malformed` naming the
    ///   member at fault for anything else: another format, an unknown or missing member, a number that is
    ///   not finite or out of range, shapes that disagree.
    public init(bytes: [UInt8], context: String) throws {
        guard bytes.count <= Self.maxFileBytes else {
            throw MLSecError.limitExceeded("\(context) is over \(Self.maxFileBytes) bytes; it is not a monitor reference")
        }
        let json = try JSONParser(limits: .init(maxDepth: 6, maxStringBytes: 4096, maxContainerCount: 1 << 20, maxNumberLength: 40))
            .parse(bytes, context: context)
        func fail(_ what: String) -> MLSecError {
            MLSecError.malformed("\(context): \(what) (rebuild it with `mlsec monitor profile`)")
        }
        func closed(_ value: JSONValue, _ allowed: Set<String>, _ where_: String) throws {
            guard let members = value.objectValue else { throw fail("\(where_) must be an object") }
            for (key, _) in members where !allowed.contains(key) { throw fail("unknown member \"\(key.prefix(40))\" in \(where_)") }
        }
        func double(_ value: JSONValue?, _ name: String, _ valid: (Double) -> Bool = { _ in true }) throws -> Double {
            guard case .number(let text)? = value, let v = Double(text), v.isFinite, valid(v) else {
                throw fail("\"\(name)\" is missing, not a finite number or out of range")
            }
            return v
        }
        func doubles(_ value: JSONValue?, _ name: String, count: ClosedRange<Int>, _ valid: (Double) -> Bool = { _ in true }) throws -> [Double] {
            guard let list = value?.arrayValue, count.contains(list.count) else {
                throw fail("\"\(name)\" must be a list of \(count.lowerBound)...\(count.upperBound) numbers")
            }
            return try list.map { try double($0, name, valid) }
        }
        func integer(_ value: JSONValue?, _ name: String, _ range: ClosedRange<Int>) throws -> Int {
            guard let n = value?.integerValue, range.contains(n) else { throw fail("\"\(name)\" must be an integer in \(range.lowerBound)...\(range.upperBound)") }
            return n
        }
        try closed(json, ["format", "version", "model_digest", "rows", "class_shares", "features", "ood", "typical_distance"], "the reference")
        guard json["format"]?.stringValue == Self.format, json["version"]?.integerValue == 1 else {
            throw fail("it is not an MLSec monitor reference (format \"\(Self.format)\", version 1)")
        }
        guard let digest = json["model_digest"]?.stringValue, !digest.isEmpty, digest.utf8.count <= 200 else {
            throw fail("\"model_digest\" must name the weights it was built for")
        }
        let rows = try integer(json["rows"], "rows", 1...Int(Int32.max))
        let classShares = try doubles(json["class_shares"], "class_shares", count: 1...Self.maxClasses) { $0 >= 0 && $0 <= 1 }
        guard abs(classShares.reduce(0, +) - 1) < 1e-6 else { throw fail("\"class_shares\" must sum to 1") }
        guard let featureValues = json["features"]?.arrayValue, (1...Self.maxFeatures).contains(featureValues.count) else {
            throw fail("\"features\" must list 1...\(Self.maxFeatures) features")
        }
        var names: [String] = []
        var features: [FeatureReference] = []
        for (i, f) in featureValues.enumerated() {
            let at = "features[\(i)]"
            try closed(f, ["name", "std", "edges", "shares", "cdf_values", "cdf_shares"], at)
            guard let name = f["name"]?.stringValue, name.utf8.count <= 256 else { throw fail("\(at) needs a name") }
            let edges = try doubles(f["edges"], "\(at).edges", count: 0...254)
            let shares = try doubles(f["shares"], "\(at).shares", count: 1...255) { $0 >= 0 && $0 <= 1 }
            let values = try doubles(f["cdf_values"], "\(at).cdf_values", count: 1...Self.maxCDFPoints)
            let cdf = try doubles(f["cdf_shares"], "\(at).cdf_shares", count: 1...Self.maxCDFPoints) { $0 > 0 && $0 <= 1 }
            guard shares.count == edges.count + 1, abs(shares.reduce(0, +) - 1) < 1e-6 else {
                throw fail("\(at) needs one share more than edges, summing to 1")
            }
            guard zip(edges, edges.dropFirst()).allSatisfy({ $0 < $1 }), values.count == cdf.count,
                  zip(values, values.dropFirst()).allSatisfy({ $0 < $1 }), zip(cdf, cdf.dropFirst()).allSatisfy({ $0 <= $1 }),
                  abs((cdf.last ?? 0) - 1) < 1e-9
            else { throw fail("\(at): edges and CDF values must ascend, with as many CDF shares ending at 1") }
            let points = Set(values)
            guard edges.allSatisfy(points.contains) else { throw fail("\(at): every bin edge must be one of the CDF values") }
            names.append(name)
            features.append(FeatureReference(edges: edges, shares: shares, cdfValues: values, cdfShares: cdf,
                                             standardDeviation: try double(f["std"], "\(at).std") { $0 >= 0 }))
        }
        let d = features.count
        guard let ood = json["ood"] else { throw fail("\"ood\" is missing") }
        try closed(ood, ["centre", "whitening", "shrinkage", "threshold", "false_positive_rate", "held_out_rows", "held_out_flag_rate"], "ood")
        let centre = try doubles(ood["centre"], "ood.centre", count: d...d)
        let whitening = try doubles(ood["whitening"], "ood.whitening", count: (d * (d + 1) / 2)...(d * (d + 1) / 2))
        var diagonal = 0
        for i in 0..<d {
            diagonal += i
            guard whitening[diagonal + i] > 0 else { throw fail("ood.whitening must have a positive diagonal") }
        }
        self.init(
            modelDigest: digest, featureNames: names, features: features, rows: rows, classShares: classShares, centre: centre,
            whitening: whitening, shrinkage: try double(ood["shrinkage"], "ood.shrinkage") { $0 >= 0 && $0 <= 1 },
            oodThreshold: try double(ood["threshold"], "ood.threshold") { $0 >= 0 },
            oodFalsePositiveRate: try double(ood["false_positive_rate"], "ood.false_positive_rate") { $0 > 0 && $0 <= 0.5 },
            heldOutRows: try integer(ood["held_out_rows"], "ood.held_out_rows", 1...Int(Int32.max)),
            heldOutFlagRate: try double(ood["held_out_flag_rate"], "ood.held_out_flag_rate") { $0 >= 0 && $0 <= 1 },
            typicalDistance: try double(json["typical_distance"], "typical_distance") { $0 >= 0 })
    }

    /// Refuses a reference built for other weights or another shape of input and output.
    /// - Throws: `MLSecError.verificationFailed` saying which, and how to rebuild it.
    public func checkBinding(modelDigest digest: String, inputSize: Int, classCount: Int) throws {
        guard digest == modelDigest else {
            throw MLSecError.verificationFailed("the monitor reference was built for weights \(modelDigest.prefix(80)), not these "
                + "(\(digest.prefix(80))): build it again for this model with `mlsec monitor profile`")
        }
        guard featureCount == inputSize, self.classCount == classCount else {
            throw MLSecError.verificationFailed("the monitor reference describes \(featureCount) features and \(self.classCount) classes; "
                + "the model takes \(inputSize) and answers \(classCount)")
        }
    }
}
