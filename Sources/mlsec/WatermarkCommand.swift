// WatermarkCommand: `mlsec watermark embed|verify|robustness` (in progress).

import ArgumentParser

struct WatermarkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "watermark", abstract: "Embed and verify model watermarks.")
}
