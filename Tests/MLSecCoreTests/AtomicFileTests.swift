// Tests of atomic file writes: modes, refusal to overwrite, no temporary files left behind.

import Foundation
import MLSecCore
import Testing

@Suite struct AtomicFileTests {
    func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "/mlsec-atomic-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func writesWithModeAndRefusesOverwrite() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/key.pem"
        try AtomicFile.write("secret", to: path, mode: 0o600, overwrite: false)
        let status = try FileStatus.lstatus(path)
        #expect(status.mode & 0o777 == 0o600)
        let error = #expect(throws: MLSecError.self) { try AtomicFile.write("other", to: path, overwrite: false) }
        #expect(error?.code == .alreadyExists)
        #expect(try ReadOnlyFile.readAll(path, maxBytes: 100) == Array("secret".utf8))
        try AtomicFile.write("replaced", to: path, overwrite: true)
        #expect(try ReadOnlyFile.readAll(path, maxBytes: 100) == Array("replaced".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["key.pem"])
    }

    @Test func failedWriteLeavesNothing() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: MLSecError.self) { try AtomicFile.write("x", to: dir + "/missing/dir/file") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    @Test func readAllEnforcesTheLimit() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try AtomicFile.write([UInt8](repeating: 7, count: 1000), to: dir + "/big")
        let error = #expect(throws: MLSecError.self) { try ReadOnlyFile.readAll(dir + "/big", maxBytes: 999) }
        #expect(error?.code == .limitExceeded)
    }
}
