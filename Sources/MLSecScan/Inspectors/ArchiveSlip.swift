// ArchiveSlip: archive entries that an extractor would write outside its target folder ("zip-slip").

import MLSecCore
import MLSecFormats

/// Decides whether an entry name or a link target leaves the extraction folder. Such an entry is an attack
/// whatever it contains (a later write goes through it, or it lands on an arbitrary path), so the file is unsafe.
enum ArchiveSlip {
    /// Why an entry name escapes, or nil: absolute, a drive letter, or a `..` component.
    static func nameEscapes(_ name: String) -> String? {
        if ArchivePath.isAbsolute(name) { return "has an absolute path" }
        if ArchivePath.hasParentReference(name) { return "has a '..' component" }
        return nil
    }

    /// Why a link at `entry` pointing to `target` resolves outside the tree, or nil when it stays inside.
    static func linkEscapes(entry: String, target: String) -> String? {
        if ArchivePath.isAbsolute(target) { return "points to the absolute path \(ArchivePath.quoted(target))" }
        let inside = ArchivePath.components(entry).filter { !$0.isEmpty && $0 != "." }
        var depth = max(0, inside.count - 1)  // the link's own folder
        for part in ArchivePath.components(target) {
            switch part {
            case ".", "": continue
            case "..":
                depth -= 1
                if depth < 0 { return "points through '..' out of the archive's folder to \(ArchivePath.quoted(target))" }
            default: depth += 1
            }
        }
        return nil
    }

    static func finding(_ entry: String, _ why: String, location: String?) -> Finding {
        Finding(.critical, rule: "zip-slip",
                message: "zip-slip: entry \(ArchivePath.quoted(entry)) \(why); extracting the archive would write outside the target folder",
                location: location)
    }
}
