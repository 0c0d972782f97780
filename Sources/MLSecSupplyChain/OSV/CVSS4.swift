// CVSS4: CVSS v4.0 vectors, parsed strictly and scored with the macrovector method of FIRST's CVSS v4.0
// specification §8 (equivalence classes, the macrovector table, interpolation by severity distance).

import MLSecCore

/// A CVSS v4.0 vector such as `CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N` (score 9.3).
///
/// Parsing follows the specification's vector string rules: the prefix `CVSS:4.0/`, then the eleven base
/// metrics (AV AC AT PR UI VC VI VA SC SI SA), then any threat (E), environmental (CR IR AR MAV MAC MAT MPR
/// MUI MVC MVI MVA MSC MSI MSA) and supplemental (S AU R V RE U) metrics, every metric at most once and all
/// of them in that order; an omitted optional metric, like one given as `X`, is Not Defined.
///
/// The score is the one the specification defines for the vector as written: with only base metrics it is
/// the CVSS-B score; threat and environmental metrics, where present, enter it (CVSS-BT, CVSS-BE,
/// CVSS-BTE, see ``nomenclature``), as in FIRST's calculator. Supplemental metrics never change it.
public struct CVSS4: Sendable, Hashable {
    /// The vector as given.
    public let vector: String
    /// The metrics as the vector gives them (explicit `X` values included), keyed by abbreviation.
    public let metrics: [String: String]

    /// Parses a vector.
    /// - Throws: `malformed` naming the problem and the metric (missing, repeated, unknown or out-of-order
    ///   metric, invalid value).
    public init(_ vector: String) throws {
        func fail(_ what: String) -> MLSecError {
            MLSecError.malformed("CVSS vector \(PEP440Version.quoted(vector)) \(what)")
        }
        guard vector.utf8.count <= 512 else {
            throw MLSecError.malformed("CVSS vector is \(vector.utf8.count) bytes long, over the 512-byte limit")
        }
        guard vector.hasPrefix("CVSS:4.0/") else { throw fail("does not start with CVSS:4.0/") }
        var given: [(key: String, value: String, position: Int)] = []
        var metrics: [String: String] = [:]
        for part in vector.dropFirst("CVSS:4.0/".count).split(separator: "/", omittingEmptySubsequences: false) {
            let kv = part.split(separator: ":", omittingEmptySubsequences: false)
            guard kv.count == 2, !kv[0].isEmpty, !kv[1].isEmpty else {
                throw fail("has a malformed part \(PEP440Version.quoted(String(part)))")
            }
            let key = String(kv[0]), value = String(kv[1])
            guard let position = Self.metricOrder.firstIndex(where: { $0.key == key }) else {
                throw fail("has an unknown metric \(key)")
            }
            guard metrics[key] == nil else { throw fail("repeats the metric \(key)") }
            metrics[key] = value
            given.append((key: key, value: value, position: position))
        }
        for key in Self.baseMetrics where metrics[key] == nil {
            throw fail("lacks the base metric \(key)")
        }
        for (previous, current) in zip(given, given.dropFirst()) where current.position < previous.position {
            throw fail("has the metric \(current.key) out of order (after \(previous.key); CVSS v4.0 fixes the order)")
        }
        for entry in given where !Self.metricOrder[entry.position].values.contains(entry.value) {
            throw fail("has an invalid \(entry.key) value \(PEP440Version.quoted(entry.value))")
        }
        self.vector = vector
        self.metrics = metrics
    }

    /// `CVSS-B`, `CVSS-BT`, `CVSS-BE` or `CVSS-BTE`: which metric groups (other than Not Defined) the score
    /// takes in, as the specification names them.
    public var nomenclature: String {
        let threat = (metrics["E"] ?? "X") != "X"
        let environmental = Self.environmentalMetrics.contains { (metrics[$0] ?? "X") != "X" }
        return "CVSS-B" + (threat ? "T" : "") + (environmental ? "E" : "")
    }

    /// The metric value the score uses: a modified (M*) environmental value where one is set, the worst case
    /// for Not Defined threat and requirement metrics (E:A, CR/IR/AR:H), else the base value.
    func effective(_ metric: String) -> String {
        let value = metrics[metric] ?? "X"
        switch metric {
        case "E": return value == "X" ? "A" : value
        case "CR", "IR", "AR": return value == "X" ? "H" : value
        default:
            if let modified = metrics["M" + metric], modified != "X" { return modified }
            return value
        }
    }

    /// The six equivalence-class levels (EQ1 to EQ6) of the vector, specification §8.2.
    var equivalenceClasses: [Int] {
        let av = effective("AV"), pr = effective("PR"), ui = effective("UI")
        let vc = effective("VC"), vi = effective("VI"), va = effective("VA")
        let sc = effective("SC"), si = effective("SI"), sa = effective("SA")
        let eq1: Int
        if av == "N" && pr == "N" && ui == "N" {
            eq1 = 0
        } else if (av == "N" || pr == "N" || ui == "N") && av != "P" {
            eq1 = 1
        } else {
            eq1 = 2
        }
        let eq2 = effective("AC") == "L" && effective("AT") == "N" ? 0 : 1
        let eq3 = vc == "H" && vi == "H" ? 0 : (vc == "H" || vi == "H" || va == "H" ? 1 : 2)
        let eq4 = si == "S" || sa == "S" ? 0 : (sc == "H" || si == "H" || sa == "H" ? 1 : 2)
        let eq5 = ["A": 0, "P": 1, "U": 2][effective("E")] ?? 0
        let requirementMet = (effective("CR") == "H" && vc == "H") || (effective("IR") == "H" && vi == "H")
            || (effective("AR") == "H" && va == "H")
        return [eq1, eq2, eq3, eq4, eq5, requirementMet ? 0 : 1]
    }

    /// The macrovector: the six levels as digits, e.g. `000200`.
    public var macroVector: String { equivalenceClasses.map(String.init).joined() }

    /// The score (0.0 to 10.0, one decimal), specification §8: the macrovector's score, lowered within its
    /// equivalence classes by the vector's mean proportional severity distance from their highest-severity
    /// vectors, rounded half up to one decimal.
    public var score: Double {
        let impacts = ["VC", "VI", "VA", "SC", "SI", "SA"]
        if impacts.allSatisfy({ effective($0) == "N" }) { return 0 }
        let eq = equivalenceClasses
        guard let value = Self.lookup(eq) else { return 0 }  // every reachable macrovector is in the table

        // The score of the next lower macrovector in each class (nil where there is none).
        func lower(_ changes: [Int: Int]) -> Double? {
            var next = eq
            for (index, step) in changes { next[index] += step }
            return Self.lookup(next)
        }
        let lowerEQ3EQ6: Double?
        switch (eq[2], eq[5]) {
        case (0, 0): lowerEQ3EQ6 = [lower([5: 1]), lower([2: 1])].compactMap { $0 }.max()
        case (1, 0): lowerEQ3EQ6 = lower([5: 1])
        case (0, 1), (1, 1): lowerEQ3EQ6 = lower([2: 1])
        default: lowerEQ3EQ6 = lower([2: 1, 5: 1])
        }
        let lowers = [lower([0: 1]), lower([1: 1]), lowerEQ3EQ6, lower([3: 1]), lower([4: 1])]

        // The severity distance of each metric from the first highest-severity vector of the macrovector
        // that the vector does not exceed in any metric (the last one if none qualifies, as the reference does).
        let candidates = Self.maxVectors(eq)
        var distances: [String: Double] = [:]
        for candidate in candidates {
            distances = [:]
            for (metric, levels) in Self.severityLevels {
                distances[metric] = (levels[effective(metric)] ?? 0) - (levels[candidate[metric] ?? ""] ?? 0)
            }
            if distances.values.allSatisfy({ $0 >= 0 }) { break }
        }
        func sum(_ keys: [String]) -> Double { keys.reduce(0.0) { $0 + (distances[$1] ?? 0) } }
        let current = [sum(["AV", "PR", "UI"]), sum(["AC", "AT"]), sum(["VC", "VI", "VA", "CR", "IR", "AR"]),
                       sum(["SC", "SI", "SA"]), 0.0]
        let step = 0.1
        let depths = [Self.depthEQ1[eq[0]], Self.depthEQ2[eq[1]], Self.depthEQ3EQ6["\(eq[2])\(eq[5])"] ?? 1,
                      Self.depthEQ4[eq[3]], Self.depthEQ5[eq[4]]]

        var total = 0.0
        var counted = 0
        for index in 0..<5 {
            guard let next = lowers[index] else { continue }
            counted += 1
            // EQ5 has no distance within its levels: it counts towards the mean with nothing added.
            let proportion = index == 4 ? 0 : current[index] / (Double(depths[index]) * step)
            total += (value - next) * proportion
        }
        let lowered = min(10, max(0, value - (counted == 0 ? 0 : total / Double(counted))))
        return ((lowered + 1e-6) * 10).rounded(.toNearestOrAwayFromZero) / 10
    }

    // MARK: - Data

    private struct Metric: Sendable {
        let key: String
        let values: [String]
    }

    /// Every metric in the specification's vector-string order, with its valid values.
    private static let metricOrder: [Metric] = {
        let impact = ["H", "L", "N"]
        let requirement = ["X", "H", "M", "L"]
        let modifiedImpact = ["X", "H", "L", "N"]
        let modifiedSubsequent = ["X", "S", "H", "L", "N"]
        let pairs: [(String, [String])] = [
            ("AV", ["N", "A", "L", "P"]), ("AC", ["L", "H"]), ("AT", ["N", "P"]), ("PR", ["N", "L", "H"]),
            ("UI", ["N", "P", "A"]), ("VC", impact), ("VI", impact), ("VA", impact), ("SC", impact),
            ("SI", impact), ("SA", impact),
            ("E", ["X", "A", "P", "U"]),
            ("CR", requirement), ("IR", requirement), ("AR", requirement),
            ("MAV", ["X", "N", "A", "L", "P"]), ("MAC", ["X", "L", "H"]), ("MAT", ["X", "N", "P"]),
            ("MPR", ["X", "N", "L", "H"]), ("MUI", ["X", "N", "P", "A"]), ("MVC", modifiedImpact),
            ("MVI", modifiedImpact), ("MVA", modifiedImpact), ("MSC", modifiedImpact), ("MSI", modifiedSubsequent),
            ("MSA", modifiedSubsequent),
            ("S", ["X", "N", "P"]), ("AU", ["X", "N", "Y"]), ("R", ["X", "A", "U", "I"]), ("V", ["X", "D", "C"]),
            ("RE", ["X", "L", "M", "H"]), ("U", ["X", "Clear", "Green", "Amber", "Red"]),
        ]
        return pairs.map { Metric(key: $0.0, values: $0.1) }
    }()

    private static let baseMetrics = ["AV", "AC", "AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA"]
    private static let environmentalMetrics = ["CR", "IR", "AR", "MAV", "MAC", "MAT", "MPR", "MUI", "MVC", "MVI",
                                               "MVA", "MSC", "MSI", "MSA"]

    /// The severity level of each value, in 0.1 steps from the most severe (specification §8.3).
    private static let severityLevels: [(String, [String: Double])] = {
        let impact = ["H": 0.0, "L": 0.1, "N": 0.2]
        let subsequent = ["S": 0.0, "H": 0.1, "L": 0.2, "N": 0.3]
        let requirement = ["H": 0.0, "M": 0.1, "L": 0.2]
        return [
            ("AV", ["N": 0.0, "A": 0.1, "L": 0.2, "P": 0.3]), ("PR", ["N": 0.0, "L": 0.1, "H": 0.2]),
            ("UI", ["N": 0.0, "P": 0.1, "A": 0.2]), ("AC", ["L": 0.0, "H": 0.1]), ("AT", ["N": 0.0, "P": 0.1]),
            ("VC", impact), ("VI", impact), ("VA", impact),
            ("SC", ["H": 0.1, "L": 0.2, "N": 0.3]), ("SI", subsequent), ("SA", subsequent),
            ("CR", requirement), ("IR", requirement), ("AR", requirement),
        ]
    }()

    private static func lookup(_ eq: [Int]) -> Double? {
        macroVectorScores[eq.map(String.init).joined()]
    }

    /// The highest-severity vectors of a macrovector, in the reference order (EQ1 outermost, EQ5 innermost),
    /// each as metric -> value.
    private static func maxVectors(_ eq: [Int]) -> [[String: String]] {
        var out: [[String: String]] = [[:]]
        let groups = [maxEQ1[eq[0]], maxEQ2[eq[1]], maxEQ3EQ6["\(eq[2])\(eq[5])"] ?? [], maxEQ4[eq[3]], maxEQ5[eq[4]]]
        for group in groups {
            out = out.flatMap { prefix in
                group.map { partial -> [String: String] in
                    var merged = prefix
                    for pair in partial.split(separator: "/") {
                        let kv = pair.split(separator: ":")
                        if kv.count == 2 { merged[String(kv[0])] = String(kv[1]) }
                    }
                    return merged
                }
            }
        }
        return out
    }
}

extension CVSS {
    /// The score of a CVSS v4.0 vector (see ``CVSS4``).
    /// - Throws: `malformed` naming the problem.
    public static func v4Score(_ vector: String) throws -> Double {
        try CVSS4(vector).score
    }
}
