import Foundation
import SwitchboardCore
import SwitchboardStore

/// A database that already holds a city's history: `closed` inquiries (each with its
/// envelope, a three-move timeline and its SLA outcomes) and `queued` ones waiting in
/// one department, written through the store's own commit path in large batches, so
/// that the broker's costs can be measured against a store of realistic size.
enum StoredHistory {
    /// Where the queued part of the history waits.
    static let queuedDepartment = "roads"

    struct Filled {
        var seconds: Double
        var bytes: Int
    }

    static func fill(directory: String, closed: Int, queued: Int, progress: (Int) -> Void) throws -> Filled {
        let started = ContinuousClock.now
        let store = try SQLiteInquiryStore(directory: directory)
        let policy = SLAPolicy()
        let padding = String(repeating: " ", count: 300)
        let base = Date().addingTimeInterval(-Double(closed + queued) / 1_000 - 86_400)
        var rng = SystemRandomNumberGenerator()
        var batch = JournalBatch()
        var written = 0
        let formatter = ISO8601DateFormatter()
        let departments = IngestProtocol.departments
        for n in 0..<(closed + queued) {
            let at = base.addingTimeInterval(Double(n) / 1_000)
            let department = n < closed ? departments[n % departments.count] : queuedDepartment
            let id = InquiryID.generate(milliseconds: UInt64(at.timeIntervalSince1970 * 1_000), using: &rng)
            var record = LifecycleRecord(lifecycle: InquiryLifecycle(id: id, department: department), priority: .normal,
                                         sla: InquirySLA(department: department, priority: .normal, policy: policy, at: at))
            let received = formatter.string(from: at)
            let text = IngestProtocol.texts[n % departments.count] + padding
            let envelope = #"{"id":"\#(id)","received_at":"\#(received)","source":{"platform":"x","account":"@RivertonCity","external_id":"h\#(n)"},"author":{"handle":"@resident\#(n % 50_000)"},"text":"\#(text)","captured_at":"\#(received)"}"#
            var timeline = [InquiryLifecycle.routedEntry(id: id, department: department, at: at)]
            if n < closed {
                for command in [LifecycleCommand.deliver, .close(.answered, note: "answered by the department")] {
                    if let entry = try? record.lifecycle.apply(command, by: .worker("w-bench"), actingFor: department, at: at.addingTimeInterval(60),
                                                               frontOffice: "front-office", departments: Set(departments + ["front-office"])) {
                        record.sla.follow(entry, priority: .normal, policy: policy)
                        timeline.append(entry)
                    }
                }
            }
            batch.insert(AcceptedInquiry(key: DeduplicationKey(platform: .x, externalID: "h\(n)"), envelopeJSON: envelope,
                                         routingJSON: #"{"department":"\#(department)","priority":"normal","rule":"bench","tags":[]}"#,
                                         receivedAt: received, record: record, author: "@resident\(n % 50_000)"))
            timeline.forEach { batch.append($0) }
            if batch.count >= 20_000 {
                _ = try store.commit(batch)
                batch = JournalBatch()
                written = n + 1
                if written % 500_000 < 5_000 { progress(written) }
            }
        }
        if !batch.isEmpty { _ = try store.commit(batch) }
        let size = (try? FileManager.default.attributesOfItem(atPath: directory + "/inquiries.sqlite")[.size] as? Int) ?? 0
        return Filled(seconds: (ContinuousClock.now - started).seconds, bytes: size)
    }
}
