// AgeStream: the age payload, ChaCha20-Poly1305 STREAM over 64 KiB chunks, sealed and opened on every core.

import Crypto
import Dispatch
import Foundation
import MLSecCore

/// The payload layer of age: a 16-byte nonce, a key derived from it, then chunks of 64 KiB (the last one
/// shorter and flagged) each sealed with ChaCha20-Poly1305 under nonce = 11-byte counter || last flag.
///
/// Chunks are independent, so a batch of them is sealed or opened in parallel; memory stays at two batches
/// whatever the file size. Decryption releases plaintext chunk by chunk, in order, only after each chunk
/// authenticated, and reports truncation, extension and tampering exactly where the reference reader does.
enum AgeStream {
    static let chunkSize = 64 * 1024
    static let tagSize = 16
    static let sealedChunkSize = chunkSize + tagSize
    static let nonceSize = 16

    /// Chunks per batch: enough to keep every core busy with a bounded buffer (a few MiB).
    static var batchChunks: Int { max(8, 16 * ProcessInfo.processInfo.activeProcessorCount) }

    static func payloadKey(fileKey: SymmetricKey, nonce: [UInt8]) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: fileKey, salt: nonce, info: Array("payload".utf8), outputByteCount: 32)
    }

    /// The 12-byte chunk nonce: an 11-byte big-endian counter, then 1 for the last chunk or 0.
    static func chunkNonce(_ counter: UInt64, last: Bool) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 12)
        for i in 0..<8 { bytes[10 - i] = UInt8(truncatingIfNeeded: counter >> UInt64(8 * i)) }
        bytes[11] = last ? 1 : 0
        return bytes
    }

    /// Shared buffers of one batch, written by disjoint chunk indices in parallel.
    private final class Batch: @unchecked Sendable {
        let input: UnsafeMutableRawBufferPointer
        let output: UnsafeMutableRawBufferPointer
        /// Per chunk: output length, or -1 when it failed; and whether it opened as the last chunk.
        let lengths: UnsafeMutableBufferPointer<Int>
        let lastFlags: UnsafeMutableBufferPointer<Bool>

        init(inputBytes: Int, outputBytes: Int, chunks: Int) {
            input = .allocate(byteCount: inputBytes, alignment: 64)
            output = .allocate(byteCount: outputBytes, alignment: 64)
            lengths = .allocate(capacity: chunks)
            lengths.initialize(repeating: 0)
            lastFlags = .allocate(capacity: chunks)
            lastFlags.initialize(repeating: false)
        }

        deinit {
            // Plaintext passes through these buffers: clear them before they go back to the allocator.
            explicitZero(input.baseAddress!, input.count)
            explicitZero(output.baseAddress!, output.count)
            input.deallocate()
            output.deallocate()
            lengths.deallocate()
            lastFlags.deallocate()
        }
    }

    private static func parallel(_ count: Int, _ body: @Sendable (Int) -> Void) {
        if count == 1 { body(0) } else { DispatchQueue.concurrentPerform(iterations: count, execute: body) }
    }

    /// Encrypts everything `reader` yields into `sink` (the nonce first).
    static func encrypt(from reader: AgeReader, to sink: any AgeSink, fileKey: SymmetricKey) throws {
        var nonce = [UInt8](repeating: 0, count: nonceSize)
        var generator = SystemRandomNumberGenerator()
        for i in nonce.indices { nonce[i] = generator.next() }
        try sink.write(nonce)
        let aead = try ChaChaPolyContext(key: payloadKey(fileKey: fileKey, nonce: nonce))
        let perBatch = batchChunks
        let batch = Batch(inputBytes: perBatch * chunkSize, outputBytes: perBatch * sealedChunkSize, chunks: perBatch)
        var counter: UInt64 = 0
        while true {
            let got = try reader.readFull(into: batch.input)
            let final = try got < batch.input.count || reader.peek(1).isEmpty
            let chunks = final ? max(1, (got + chunkSize - 1) / chunkSize) : perBatch
            let base = counter
            parallel(chunks) { index in
                let start = index * chunkSize
                let length = min(chunkSize, got - start)
                let nonce = chunkNonce(base + UInt64(index), last: final && index == chunks - 1)
                let sealed = aead.seal(
                    batch.input.baseAddress! + start, length: length,
                    into: batch.output.baseAddress! + index * sealedChunkSize, nonce: nonce)
                batch.lengths[index] = sealed ? length + tagSize : -1
            }
            guard !batch.lengths[..<chunks].contains(-1) else { throw MLSecError.io("ChaCha20-Poly1305 sealing failed") }
            let total = (chunks - 1) * sealedChunkSize + batch.lengths[chunks - 1]
            try sink.write(UnsafeRawBufferPointer(rebasing: batch.output[..<total]))
            counter += UInt64(chunks)
            if final { return }
        }
    }

    /// Decrypts the payload that follows the header in `reader` into `sink`, releasing each chunk once it
    /// authenticated. Throws `AgeError` (payload) at the first bad chunk, a missing final chunk or data after
    /// it; the chunks before it have then been released, as with the reference reader.
    static func decrypt(from reader: AgeReader, to sink: any AgeSink, fileKey: SymmetricKey) throws {
        var nonce = [UInt8](repeating: 0, count: nonceSize)
        let got = try nonce.withUnsafeMutableBytes { try reader.readFull(into: $0) }
        guard got == nonceSize else { throw AgeError.header("the payload nonce is missing or short (\(got) of 16 bytes)") }
        let aead = try ChaChaPolyContext(key: payloadKey(fileKey: fileKey, nonce: nonce))
        let perBatch = batchChunks
        let batch = Batch(inputBytes: perBatch * sealedChunkSize, outputBytes: perBatch * chunkSize, chunks: perBatch)
        var counter: UInt64 = 0
        while true {
            let got = try reader.readFull(into: batch.input)
            guard got > 0 else {
                throw AgeError.payload(counter == 0 ? "there are no chunks" : "the file is truncated: the final chunk is missing")
            }
            let atEnd = try got < batch.input.count || reader.peek(1).isEmpty
            let chunks = (got + sealedChunkSize - 1) / sealedChunkSize
            let base = counter
            parallel(chunks) { index in
                let start = index * sealedChunkSize
                let length = min(sealedChunkSize, got - start)
                let chunkCounter = base + UInt64(index)
                let out = batch.output.baseAddress! + index * chunkSize
                func open(last: Bool) -> Bool {
                    guard aead.open(batch.input.baseAddress! + start, length: length, into: out,
                                    nonce: chunkNonce(chunkCounter, last: last))
                    else { return false }
                    batch.lengths[index] = length - tagSize
                    batch.lastFlags[index] = last
                    return true
                }
                if length < sealedChunkSize {
                    // A short chunk must be the last; it may be empty only as the first and only chunk.
                    if chunkCounter > 0, length == tagSize {
                        batch.lengths[index] = -2
                    } else if !open(last: true) {
                        batch.lengths[index] = -1
                    }
                } else if !open(last: false), !open(last: true) {
                    batch.lengths[index] = -1
                }
            }
            for index in 0..<chunks {
                let number = base + UInt64(index)
                switch batch.lengths[index] {
                case -2: throw AgeError.payload("chunk \(number) is an empty final chunk, which age never writes")
                case -1: throw AgeError.payload("chunk \(number) does not authenticate: the file was modified or truncated")
                case let length:
                    let plain = UnsafeRawBufferPointer(rebasing: batch.output[(index * chunkSize)..<(index * chunkSize + length)])
                    try sink.write(plain)
                    let streamEnd = atEnd && index == chunks - 1
                    if batch.lastFlags[index] {
                        guard streamEnd else { throw AgeError.payload("there is data after the final chunk \(number)") }
                        return
                    }
                    if streamEnd { throw AgeError.payload("the file is truncated after chunk \(number): the final chunk is missing") }
                }
            }
            counter += UInt64(chunks)
        }
    }
}
