// Terminal: stderr diagnostics and a progress bar drawn only when stderr is a terminal.

import Foundation
import MLSecCore
import MLSecIntegrity

#if canImport(Glibc)
import Glibc
#endif

enum Terminal {
    static func error(_ message: String) {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    }

    static func warning(_ message: String) {
        FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
    }

    static func note(_ message: String) {
        FileHandle.standardError.write(Data("\(message)\n".utf8))
    }

    static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    /// Runs `body` while a background thread draws hashing progress on stderr (only on a terminal).
    static func withProgress<T>(_ label: String, _ body: (HashingProgress) throws -> T) rethrows -> T {
        let progress = HashingProgress()
        guard stderrIsTerminal else { return try body(progress) }
        let done = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let thread = Thread {
            while done.wait(timeout: .now() + .milliseconds(150)) == .timedOut {
                draw(label, progress)
            }
            FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
            finished.signal()
        }
        thread.start()
        defer {
            done.signal()
            finished.wait()
        }
        return try body(progress)
    }

    private static func draw(_ label: String, _ progress: HashingProgress) {
        let total = max(progress.bytesTotal, 1)
        let fraction = min(1.0, Double(progress.bytesDone) / Double(total))
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let text = String(format: "\r%@ [%@] %3.0f%% %@", label, bar, fraction * 100, formatBytes(progress.bytesDone))
        FileHandle.standardError.write(Data(text.utf8))
    }

    static func formatBytes(_ n: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(n)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(n) B" : String(format: "%.1f %@", value, units[unit])
    }
}

