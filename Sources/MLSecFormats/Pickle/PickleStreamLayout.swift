// PickleStreamLayout: how a stream interleaves pickles with raw data that the loader reads between them.

/// The layout of a stream that holds several pickles with raw bytes between them, as some loaders write.
///
/// The emulator must know the layout to step over the raw bytes exactly: guessing would either miss a pickle
/// hidden after them or mistake tensor bytes for one.
public enum PickleStreamLayout: Sendable, Equatable {
    /// Pickles back to back (anything after a `STOP` is another pickle or trailing data).
    case plain
    /// The `storages` member of a legacy (tar) PyTorch checkpoint: a count, then per storage a
    /// `(key, location, storage_type)` pickle followed by an 8-byte element count and the raw elements, then
    /// the storage-views pickle.
    case legacyTorchStorages
    /// The `tensors` member of a legacy (tar) PyTorch checkpoint: a count, then per tensor a
    /// `(key, storage_id, tensor_type)` pickle followed by its dimensions, sizes, strides and storage offset.
    case legacyTorchTensors
    /// A file written by `torch.save(..., _use_new_zipfile_serialization=False)`: five pickles (the magic
    /// number, the protocol version, the system info, the data with its storages as persistent ids, the sorted
    /// storage keys), then per key an 8-byte element count and the raw elements.
    case legacyTorchFile

    /// The first pickle of a legacy `torch.save` file: PROTO 2, the magic number 0x1950a86a20f9469cfc6c as a
    /// LONG1, STOP (torch/serialization.py `MAGIC_NUMBER`).
    static let legacyTorchMagic: [UInt8] = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]

    /// The layout a stream starting with `prefix` declares: a legacy `torch.save` file, or plain pickles.
    public static func detect(prefix: some Collection<UInt8>) -> PickleStreamLayout {
        prefix.starts(with: legacyTorchMagic) ? .legacyTorchFile : .plain
    }

    /// Element sizes of the legacy storage classes, by the name the pickle imports.
    static let storageElementSizes: [String: Int] = {
        var sizes: [String: Int] = [:]
        let kinds: [(String, Int)] = [
            ("Double", 8), ("Float", 4), ("Half", 2), ("BFloat16", 2), ("Long", 8), ("Int", 4), ("Short", 2),
            ("Char", 1), ("Byte", 1), ("Bool", 1), ("ComplexFloat", 8), ("ComplexDouble", 16), ("QInt8", 1),
            ("QUInt8", 1), ("QInt32", 4), ("QUInt4x2", 1), ("QUInt2x4", 1),
        ]
        for (kind, size) in kinds {
            sizes["torch.\(kind)Storage"] = size
            sizes["torch.cuda.\(kind)Storage"] = size
        }
        sizes["torch.UntypedStorage"] = 1
        return sizes
    }()
}
