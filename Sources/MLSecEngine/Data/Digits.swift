// Digits: the bundled 8x8 handwritten digits, scaled to [0, 1], with a fixed 80/20 split.

/// The bundled digits data set (see DIGITS-SOURCE.md).
public enum Digits {
    public enum Split: String, Sendable { case all, train, test }

    /// Seed of the fixed permutation behind the train/test split.
    public static let splitSeed: UInt64 = 0
    /// Test images: 20% of 1,797, rounded up (as scikit-learn's train_test_split does).
    public static let testCount = 360

    /// The images of `split`: 64 features in [0, 1] (pixel / 16), label 0...9. The split is a fixed,
    /// seeded permutation of the 1,797 images: its first 1,437 are the training split, the last 360 the test
    /// split, each in permutation order.
    public static func dataset(_ split: Split) -> Dataset {
        let all = decode()
        guard split != .all else { return all }
        let order = permutation(count: all.count, seed: splitSeed)
        let cut = all.count - testCount
        return all.subset(split == .train ? Array(order[..<cut]) : Array(order[cut...]))
    }

    /// `0..<count` shuffled by ``SeededGenerator/shuffle(_:)`` seeded with `seed`.
    public static func permutation(count: Int, seed: UInt64) -> [Int] {
        var order = Array(0..<count)
        var rng = SeededGenerator(seed: seed)
        rng.shuffle(&order)
        return order
    }

    private static func decode() -> Dataset {
        var features: [Float] = []
        var labels: [Int] = []
        for line in encoded.split(separator: "\n") {
            let bytes = Array(line.utf8)
            for b in bytes.prefix(64) { features.append(Float(b &- UInt8(ascii: "a")) / 16) }
            labels.append(Int(bytes[64] &- UInt8(ascii: "0")))
        }
        return Dataset(featureNames: (0..<64).map { "pixel\($0)" }, features: features, labels: labels,
                       count: labels.count)
    }

    /// Resolves `digits`, `digits-train` and `digits-test`; `nil` for anything else.
    public static func named(_ name: String) -> Dataset? {
        switch name {
        case "digits": dataset(.all)
        case "digits-train": dataset(.train)
        case "digits-test": dataset(.test)
        default: nil
        }
    }
}
