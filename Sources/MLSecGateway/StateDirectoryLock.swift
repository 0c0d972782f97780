// StateDirectoryLock: one gateway per SQLite state directory. A second `mlsec serve` on the same folder would
// append to the same audit log behind the first one's back (its in-memory tree goes stale) and race on keys.

import Foundation
import MLSecCore

#if canImport(Glibc)
import Glibc
#endif

/// An exclusive advisory lock (flock) on `<state dir>/gateway.lock`, held until the process exits.
public enum StateDirectoryLock {
    /// The open lock files; never closed, so the locks last as long as the process.
    nonisolated(unsafe) private static var held: [String: Int32] = [:]
    private static let guardLock = NSLock()

    /// Takes the lock of `directory` (creating the folder, mode 0700, when missing); throws when another process
    /// holds it.
    public static func acquire(_ directory: String) throws {
        guardLock.lock()
        defer { guardLock.unlock() }
        if !FileStatus.exists(directory), mkdir(directory, 0o700) != 0, errno != EEXIST {
            throw MLSecError.io("cannot create the state directory \(directory): \(FileStatus.errnoText())")
        }
        // One key per folder, however it is spelled (flock conflicts between two descriptors of one process too).
        guard let resolved = realpath(directory, nil) else { throw MLSecError.io("cannot resolve \(directory): \(FileStatus.errnoText())") }
        let canonical = String(cString: resolved)
        free(resolved)
        guard held[canonical] == nil else { return }
        let path = "\(canonical)/gateway.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw MLSecError.io("cannot open \(path): \(FileStatus.errnoText())") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            close(fd)
            throw MLSecError.usage(
                "another mlsec serve (pid \(holder.map { String($0.prefix(20)) } ?? "unknown")) uses the state directory \(directory); "
                    + "stop it, or give this one its own --state-dir (replicas share state through PostgreSQL, not a folder)")
        }
        _ = ftruncate(fd, 0)
        let pid = "\(getpid())\n"
        _ = pid.withCString { write(fd, $0, strlen($0)) }
        held[canonical] = fd
    }
}
