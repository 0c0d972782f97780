// LabelFlipScreen.swift: label-flip suspects: rows whose nearest neighbours mostly carry another label.

/// k-nearest-neighbour disagreement. Each of a row's k neighbours votes for its own label with the weight
/// 1 / (distance + δ), where δ is the median nearest-neighbour distance of the data (a softened inverse distance:
/// near neighbours count more, but one very close row cannot outvote the rest). The score is the weighted fraction
/// of the votes that go to other labels, in [0, 1]; a row is a suspect when the score reaches the threshold and
/// the single most-voted other label outvotes the row's own (the neighbours agree on what the label should be).
enum LabelFlipScreen {
    static func run(neighbours: NeighbourLists, classes: [Int], classNames: [String], softening: Double,
                    threshold: Double) -> [ScreenSuspect] {
        var suspects: [ScreenSuspect] = []
        let delta = softening > 0 ? softening : 1
        var votes = [Double](repeating: 0, count: classNames.count)
        for row in 0..<classes.count {
            let list = neighbours.neighbours(of: row)
            guard !list.isEmpty else { continue }
            for c in votes.indices { votes[c] = 0 }
            var total = 0.0
            for (j, distance) in list {
                let w = 1 / (distance + delta)
                votes[classes[j]] += w
                total += w
            }
            let own = classes[row]
            let score = (total - votes[own]) / total
            guard score >= threshold else { continue }
            var suggested = -1
            for c in votes.indices where c != own && (suggested < 0 || votes[c] > votes[suggested]) { suggested = c }
            guard suggested >= 0, votes[suggested] > votes[own] else { continue }
            var suspect = ScreenSuspect(row: row, kind: .labelFlip, score: min(1, max(0, score)))
            suspect.label = classNames[own]
            suspect.suggestedLabel = classNames[suggested]
            suspect.suggestedLabelShare = votes[suggested] / total
            suspects.append(suspect)
        }
        return suspects
    }
}
