#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import Synchronization

/// Random bits from the system's generator, fetched a page at a time.
///
/// `SystemRandomNumberGenerator` asks the kernel for every 8 bytes: on Linux one
/// `getrandom` system call per `next()`, two per inquiry id, about 25,000 calls a second
/// on the engine thread at full load (`strace -c`). The pool asks the same source
/// (`arc4random_buf`, which glibc answers with `getrandom`) for 4 KiB at once, so ids
/// stay as unpredictable as before, at one call per 256 ids.
public struct RandomPool: RandomNumberGenerator, Sendable {
    static let words = 512

    private var buffer = [UInt64](repeating: 0, count: RandomPool.words)
    private var position = RandomPool.words

    public init() {}

    public mutating func next() -> UInt64 {
        if position == Self.words { refill() }
        defer { position += 1 }
        return buffer[position]
    }

    private mutating func refill() {
        position = 0
        // glibc's arc4random_buf is getrandom for the whole buffer at once.
        buffer.withUnsafeMutableBytes { bytes in arc4random_buf(bytes.baseAddress!, bytes.count) }
    }

    /// The process's pool, for ids made on any thread.
    static let shared = Mutex(RandomPool())
}
