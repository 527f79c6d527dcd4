#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// An exclusive `flock(2)` on `<data>/switchboardd.lock`, so that two brokers never
/// open, restore and serve the same inquiry database.
///
/// The descriptor is deliberately never closed: the lock lasts as long as the process,
/// and the kernel drops it when the process ends, however it ends, so a crash never
/// leaves a stale lock behind. The file keeps the holder's PID, for the message the
/// next broker prints; the file itself stays after exit, and only the lock counts.
struct DataDirectoryLock: Sendable {
    static let fileName = "switchboardd.lock"

    /// The data directory, absolute and with symbolic links resolved.
    let directory: String
    /// The lock file, `<directory>/switchboardd.lock`.
    let path: String
    private let descriptor: Int32

    /// Creates `data` if missing, then takes the lock without waiting.
    ///
    /// - Throws: ``DataDirectoryError``, naming the holder's PID when another process
    ///   holds the lock.
    init(data: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        } catch {
            throw DataDirectoryError("cannot create --data \(data): \(error.localizedDescription). Check its parent exists and is writable.")
        }
        guard let resolved = realpath(data, nil) else {
            throw DataDirectoryError(data: data, cannot: "resolve the path", errno: errno)
        }
        directory = String(cString: resolved)
        free(resolved)
        path = directory + "/" + Self.fileName

        // No O_TRUNC: the file may belong to a running broker, whose PID it holds.
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw DataDirectoryError(data: data, cannot: "open \(Self.fileName)", errno: errno)
        }
        var locked = flock(fd, LOCK_EX | LOCK_NB)
        while locked != 0 && errno == EINTR { locked = flock(fd, LOCK_EX | LOCK_NB) }
        guard locked == 0 else {
            let code = errno
            defer { close(fd) }
            // EWOULDBLOCK is EAGAIN on Linux and on Darwin.
            guard code == EAGAIN else {
                throw DataDirectoryError(data: data, cannot: "lock \(Self.fileName)", errno: code)
            }
            let holder = Self.holder(of: fd).map { "pid \($0)" } ?? "pid unknown"
            throw DataDirectoryError("--data \(data) is in use by another switchboardd (\(holder)); stop it, or choose another --data")
        }
        descriptor = fd

        let text = Array("\(getpid())\n".utf8)
        let written = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        guard ftruncate(fd, off_t(text.count)) == 0, written == text.count else {
            let code = errno
            close(fd)
            throw DataDirectoryError(data: data, cannot: "write \(Self.fileName)", errno: code)
        }
    }

    /// The PID the lock's holder wrote. The holder writes it just after taking the lock,
    /// so an empty file is read again for a moment before giving up.
    private static func holder(of fd: Int32) -> Int32? {
        for _ in 0..<100 {
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                let text = String(decoding: buffer[..<count], as: UTF8.self)
                if let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) { return pid }
            }
            usleep(2_000)
        }
        return nil
    }
}

/// Why the data directory cannot be used; the description is the whole message.
struct DataDirectoryError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) { self.description = description }

    init(data: String, cannot action: String, errno code: Int32) {
        description = "cannot \(action) in --data \(data): \(String(cString: strerror(code))). Check the directory exists and is writable."
    }
}
