import Foundation
import Logging
import Synchronization
import SwitchboardCore
import SwitchboardProtocol
import SwitchboardStore
import ZeroMQ

/// Data protection off the engine thread: retention runs, erasure requests and records
/// exports read and write the store here, in bounded transactions, while the engine goes
/// on; the engine only hands out jobs and sends the answers (see
/// Protocols/7-data-protection.md). The manager's report, a read of the whole record of
/// a window, is made here too.
///
/// Logs name a citizen only by ``CitizenHash``, and give counts, departments and codes.
final class RecordsLane: Sendable {
    /// `sb.admin.erase`, decoded by the engine.
    struct Erasure: Sendable {
        var client: Frame
        /// As the store holds it (a WhatsApp number written with spaces is the same one).
        var citizen: CitizenIdentity
        var dryRun: Bool
        var actor: String
        var at: Date
        /// How the answer names inquiries for people (case numbers).
        var numbering = CaseNumbering()
    }

    /// `sb.admin.export`, decoded by the engine.
    struct Export: Sendable {
        var client: Frame
        var closedBefore: Date
        var department: String?
        var after: InquiryID?
        var limit: Int
        /// Also count what is left (the first page of a run, for a progress bar).
        var count: Bool
    }

    /// `sb.admin.report`, decoded by the engine, with the configuration it counts in.
    struct Report: Sendable {
        var client: Frame
        var from: Date
        var to: Date
        var department: String?
        var configuration: SwitchboardConfiguration
    }

    enum Job: Sendable {
        /// With the retention policy in force when it was queued (a reload may change it).
        case retention(now: Date, policy: RetentionPolicy)
        case erase(Erasure)
        case export(Export)
        case report(Report)
    }

    /// The longest window a report covers: a year, and a day for a leap year.
    static let longestReport: TimeInterval = 366 * 86_400

    enum Result: Sendable {
        case answer(client: Frame, service: String, frame: Frame)
        /// A retention batch anonymised these, by department.
        case purged([String: Int], at: Date)
        /// A retention run ended (its batches are reported above).
        case retentionDone(at: Date)
        /// An erasure removed these inquiries' data: the engine forgets what it holds of them.
        case erased(inquiries: [InquiryID], keys: [DeduplicationKey])
    }

    /// Records per export page.
    static let maxExportPage = 500
    /// Inquiries per read of a report: each read is one short transaction.
    static let reportPage = 2_000

    private let store: any InquiryStore
    private let journal: any InquiryJournal
    private let progress: ProjectionProgress
    private let hash: CitizenHash
    private let logger: Logger
    private let lane: Lane<Job, Result>
    /// Data was removed but the WAL still holds old frames of it.
    private let logTruncationPending = Mutex(false)

    /// How long an erasure or export waits for the projection to hold everything
    /// acknowledged before it was asked; past it, the request is answered `unavailable`.
    static let projectionWait = Duration.seconds(10)

    init(store: any InquiryStore, journal: any InquiryJournal, progress: ProjectionProgress, hash: CitizenHash, logger: Logger,
         notifyEndpoint: String) {
        self.store = store
        self.journal = journal
        self.progress = progress
        self.hash = hash
        self.logger = logger
        lane = Lane(name: "sb-records", notifyEndpoint: notifyEndpoint, maxWaiting: 64, logger: logger)
    }

    func start(context: Context) {
        lane.start(context: context) { [self] job, post in
            switch job {
            case .retention(let now, let policy): return runRetention(now: now, policy: policy, post: post)
            case .erase(let request): erase(request, post: post)
            case .export(let request): export(request, post: post)
            case .report(let request): report(request, post: post)
            }
            return true
        }
    }

    /// Queues a job; false when too many wait (the engine answers "unavailable").
    func submit(_ job: Job) -> Bool { lane.submit(job) }

    func takeResults() -> [Result] { lane.takeResults() }

    func stop() { lane.stop() }

    // MARK: Retention

    /// Anonymises expired inquiries batch by batch until none is left; between batches
    /// the store writer gets its turn. Returns false when told to stop.
    private func runRetention(now: Date, policy: RetentionPolicy, post: (Result) -> Void) -> Bool {
        let started = ContinuousClock.now
        var total: [String: Int] = [:]
        var cursor: RetentionCursor?
        while !lane.isStopping {
            let batch: RetentionBatch
            do {
                batch = try store.purgeExpired(policy, now: now, limit: policy.batchSize, after: cursor)
            } catch {
                logger.error("retention run failed; it runs again at the next interval", metadata: ["error": "\(error.underlying)"])
                break
            }
            cursor = batch.cursor
            if !batch.purged.isEmpty {
                post(.purged(batch.purged, at: now))
                total.merge(batch.purged, uniquingKeysWith: +)
                logger.info("retention batch anonymised", metadata: [
                    "inquiries": "\(batch.purged.values.reduce(0, +))", "examined": "\(batch.examined)", "total": "\(total.values.reduce(0, +))",
                ])
            }
            guard batch.examined >= policy.batchSize else { break }
        }
        // Purged data must not stay in old WAL frames either.
        if !total.isEmpty || logTruncationPending.withLock({ $0 }) {
            do {
                try store.truncateLog()
                try journal.trim(through: progress.projected)
                logTruncationPending.withLock { $0 = false }
            } catch {
                logTruncationPending.withLock { $0 = true }
                logger.warning("the WAL could not be truncated after removing personal data; retried after the next run",
                               metadata: ["error": "\(error.underlying)"])
            }
        }
        post(.retentionDone(at: now))
        logger.notice("retention run done", metadata: [
            "inquiries.anonymised": "\(total.values.reduce(0, +))",
            "departments": "\(total.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))",
            "elapsed": "\(ContinuousClock.now - started)",
        ])
        return !lane.isStopping
    }

    // MARK: Erasure

    /// Waits until the projection holds every batch durable now: what an erasure or an
    /// export reads must include all that was acknowledged before it was asked.
    private func projectionCaughtUp() -> Bool {
        progress.wait(until: progress.committed, timeout: Self.projectionWait)
    }

    private func erase(_ request: Erasure, post: (Result) -> Void) {
        let service = InquiryService.erase
        let named = request.citizen
        let citizen = hash(platform: named.platform, handle: named.handle)
        guard projectionCaughtUp() else {
            logger.error("erasure waited too long for the projection; ask again once /stats shows it caught up", metadata: ["citizen": "\(citizen)"])
            post(.answer(client: request.client, service: service, frame: InquiryReply.unavailable.frame))
            return
        }
        // The citizen is every identity linked to the one named: one request erases them all.
        let identities: [CitizenIdentity], perIdentity: [CitizenRecords], records: CitizenRecords, links: Int
        do {
            identities = try CitizenDesk.group(of: named, in: store,
                                               reach: CitizenDesk.erasureReach)
            perIdentity = try identities.map { identity throws(StoreError) in try store.citizenRecords(platform: identity.platform, handle: identity.handle) }
            records = CitizenRecords(closed: perIdentity.flatMap(\.closed), open: perIdentity.flatMap(\.open), messages: perIdentity.map(\.messages).reduce(0, +),
                                     alreadyAnonymised: perIdentity.map(\.alreadyAnonymised).reduce(0, +), followUps: perIdentity.flatMap(\.followUps))
            links = try store.links(touching: identities).count
        } catch {
            logger.error("erasure request could not be read", metadata: ["citizen": "\(citizen)", "error": "\(error.underlying)"])
            post(.answer(client: request.client, service: service, frame: InquiryReply.unavailable.frame))
            return
        }
        guard records.open.isEmpty else {
            logger.notice("erasure refused: inquiries still open", metadata: ["citizen": "\(citizen)", "open": "\(records.open.count)"])
            let cases = records.open.map { id in (try? store.record(id)).flatMap { $0 }.map { request.numbering.format($0.caseNumber) } ?? id.description }
            post(.answer(client: request.client, service: service, frame: InquiryReply.agentError(.openInquiries(cases)).frame))
            return
        }
        // Links alone (identities with no inquiry left) are erased too.
        guard !records.closed.isEmpty || links > 0 else {
            // A repeated request is recognised by the audit's hash: nothing is left to erase.
            let earlier = (try? store.erasures(citizenHash: citizen)) ?? []
            logger.notice("erasure request matched no inquiry", metadata: ["citizen": "\(citizen)", "erased.before": "\(earlier.count)"])
            guard let last = earlier.last else {
                post(.answer(client: request.client, service: service, frame: InquiryReply.agentError(.noCitizenRecords(named.platform)).frame))
                return
            }
            let answer = ErasureAnswer(dryRun: request.dryRun, citizen: citizen, platform: named.platform.rawValue, inquiries: 0, messages: 0,
                                       alreadyAnonymised: 0, ids: [], alreadyErasedAt: earlier.map(Timestamp.format), lastErasedAt: Timestamp.format(last))
            post(.answer(client: request.client, service: service, frame: InquiryReply.model(answer).frame))
            return
        }
        var answer = ErasureAnswer(dryRun: request.dryRun, citizen: citizen, platform: named.platform.rawValue, inquiries: records.closed.count,
                                   messages: records.messages, alreadyAnonymised: records.alreadyAnonymised, ids: records.closed.map(\.id.description))
        // Replies still waiting for their gateway are deleted with the words: say so first.
        let closed = Set(records.closed.map(\.id))
        let unsent = ((try? store.pendingOutbound()) ?? []).filter { closed.contains($0.inquiry) }.count
        if unsent > 0 { answer.unsentReplies = unsent }
        if identities.count > 1 {
            // Named by platform only: the answer, like the audit, holds no handle.
            answer.linkedIdentities = identities.map(\.platform.rawValue)
            answer.links = links
        }
        if request.dryRun {
            logger.info("erasure dry run", metadata: ["citizen": "\(citizen)", "inquiries": "\(records.closed.count)", "actor": "\(request.actor)"])
            post(.answer(client: request.client, service: service, frame: InquiryReply.model(answer).frame))
            return
        }
        // One audit entry per identity, so a request naming any of them later is recognised.
        let audits = zip(identities, perIdentity).map { identity, records in
            ErasureAudit(at: request.at, actor: request.actor, platform: identity.platform, citizenHash: hash(platform: identity.platform, handle: identity.handle),
                         inquiries: records.closed.count, messages: records.messages)
        }
        let outcome: ErasureOutcome
        do {
            outcome = try store.erase(records.closed.map(\.id), audits: audits, identities: identities)
        } catch {
            logger.critical("erasure failed; nothing was erased", metadata: ["citizen": "\(citizen)", "error": "\(error.underlying)"])
            post(.answer(client: request.client, service: service, frame: InquiryReply.unavailable.frame))
            return
        }
        // The journal held the same data until the projection had it: trimmed, and its
        // log emptied, before the citizen is told it is gone.
        do {
            try journal.trim(through: progress.projected)
        } catch {
            logTruncationPending.withLock { $0 = true }
            logger.warning("erased, but the journal could not be trimmed yet; retried after the next retention run",
                           metadata: ["error": "\(error.underlying)"])
        }
        let erased = Set(outcome.erased)
        post(.erased(inquiries: outcome.erased, keys: records.closed.filter { erased.contains($0.id) }.map(\.key) + records.followUps))
        if !outcome.logTruncated {
            logTruncationPending.withLock { $0 = true }
            logger.warning("erased, but the WAL could not be truncated yet (a reader holds an old snapshot); retried after the next retention run")
        }
        logger.notice("citizen's personal data erased", metadata: [
            "citizen": "\(citizen)", "inquiries": "\(outcome.erased.count)", "messages": "\(records.messages)", "actor": "\(request.actor)",
            "identities": "\(identities.count)", "links": "\(links)",
        ])
        answer.inquiries = outcome.erased.count
        answer.ids = outcome.erased.map(\.description)
        let reopened = records.closed.map(\.id).filter { !erased.contains($0) }
        if !reopened.isEmpty { answer.reopenedMeanwhile = reopened.map(\.description) }
        answer.erasedAt = Timestamp.format(request.at)
        post(.answer(client: request.client, service: service, frame: InquiryReply.model(answer).frame))
    }

    // MARK: Export

    private func export(_ request: Export, post: (Result) -> Void) {
        let page: [ExportRecord]
        var remaining: Int?
        guard projectionCaughtUp() else {
            logger.error("export waited too long for the projection; the page is asked again")
            post(.answer(client: request.client, service: InquiryService.export, frame: InquiryReply.unavailable.frame))
            return
        }
        do {
            if request.count { remaining = try store.countClosed(before: request.closedBefore, department: request.department, after: request.after) }
            page = try store.exportClosed(before: request.closedBefore, department: request.department, after: request.after, limit: request.limit)
        } catch {
            logger.error("export page could not be read", metadata: ["error": "\(error.underlying)"])
            post(.answer(client: request.client, service: InquiryService.export, frame: InquiryReply.unavailable.frame))
            return
        }
        var records: [UInt8] = [UInt8(ascii: "[")]
        for (index, record) in page.enumerated() {
            if index > 0 { records.append(UInt8(ascii: ",")) }
            records += Self.json(record).bytes
        }
        records.append(UInt8(ascii: "]"))
        var answer = JSONWriter()
        answer.add("status", "ok")
        answer.add("count", page.count)
        if let remaining { answer.add("remaining", remaining) }
        answer.add("next_after", page.count == request.limit ? page.last?.id.description : nil)
        answer.add("records", raw: String(decoding: records, as: UTF8.self))
        post(.answer(client: request.client, service: InquiryService.export, frame: Frame(answer.bytes)))
    }

    // MARK: The manager's report

    private func report(_ request: Report, post: (Result) -> Void) {
        let service = AdminService.report.rawValue
        guard projectionCaughtUp() else {
            logger.error("the report waited too long for the projection; it is asked again")
            post(.answer(client: request.client, service: service, frame: InquiryReply.unavailable.frame))
            return
        }
        // A page at a time: only counts and times stay in memory, whatever the window holds.
        var tally = ManagerReportBuilder.Tally(from: request.from, to: request.to, department: request.department)
        var after: InquiryID?
        while !lane.isStopping {
            let page: [ReportInquiry]
            do {
                page = try store.reportInquiries(receivedFrom: Timestamp.format(request.from), before: Timestamp.format(request.to),
                                                 department: request.department, after: after, limit: Self.reportPage)
            } catch {
                logger.error("the report's inquiries could not be read", metadata: ["error": "\(error.underlying)"])
                post(.answer(client: request.client, service: service, frame: InquiryReply.unavailable.frame))
                return
            }
            tally.add(page)
            guard page.count == Self.reportPage, let last = page.last else { break }
            after = last.record.id
        }
        // Stopped half-way (the broker is shutting down): no report rather than a part of one.
        if lane.isStopping { return }
        let report = tally.report(configuration: request.configuration, now: Date(), format: Timestamp.format)
        let body = (try? JSONEncoder().encode(report)) ?? Data(#"{"status":"error"}"#.utf8)
        post(.answer(client: request.client, service: service, frame: Frame(bytes: [UInt8](body))))
    }

    /// One record of the export: stored documents as they are, around a few columns.
    static func json(_ record: ExportRecord) -> JSONWriter {
        var writer = JSONWriter(capacity: 2_048)
        writer.add("id", record.id.description)
        writer.add("department", record.department)
        writer.add("closed_at", record.closedAt.map(Timestamp.format))
        writer.add("anonymised_at", record.anonymisedAt.map(Timestamp.format))
        writer.add("envelope", raw: record.envelopeJSON)
        writer.add("routing", raw: record.routingJSON)
        writer.add("lifecycle", raw: record.lifecycleJSON ?? "null")
        writer.add("timeline", raw: "[" + record.timelineJSON.joined(separator: ",") + "]")
        var messages: [String] = []
        for message in record.messages {
            var item = JSONWriter()
            item.add("id", message.id)
            item.add("direction", message.direction)
            item.add("kind", message.kind)
            item.add("platform", message.platform)
            item.add("account", message.account)
            item.add("text", message.text)
            item.add("sent_at", message.sentAt)
            messages.append(item.result)
        }
        writer.add("messages", raw: "[" + messages.joined(separator: ",") + "]")
        return writer
    }
}

extension RecordsLane.Erasure {
    /// `{"citizen": "PLATFORM:HANDLE", "dry_run": true, "actor": "..."}`; under CURVE the
    /// actor is the key's name. Errors name the field, never its value.
    init(client: Frame, request: AgentRequest, actor: String?, at: Date, numbering: CaseNumbering) throws(AgentError) {
        let citizen = try CitizenDesk.identity(request, "citizen")
        if request.has("dry_run"), request.bool("dry_run") == nil { throw .invalid(field: "dry_run", "must be true or false") }
        self.init(client: client, citizen: citizen, dryRun: request.bool("dry_run") ?? false,
                  actor: actor ?? request.optional("actor") ?? "anonymous", at: at, numbering: numbering)
    }
}

extension RecordsLane.Report {
    /// `{"from": day or time, "to": day or time, "department": "..."}`; a `to` that is a day
    /// runs to that day's end.
    init(client: Frame, request: AgentRequest, configuration: SwitchboardConfiguration) throws(AgentError) {
        let hint = "must be a day (2026-11-01, UTC) or an ISO 8601 time with its zone (2026-11-01T08:00:00+01:00)"
        let fromText = try request.string("from"), toText = try request.string("to")
        guard let from = CalendarDate.parse(fromText) else { throw .invalid(field: "from", hint) }
        guard var to = CalendarDate.parse(toText) else { throw .invalid(field: "to", hint) }
        if !toText.contains("T") { to.addTimeInterval(86_400) }
        guard from < to else { throw .invalid(field: "to", "must come after from") }
        guard to.timeIntervalSince(from) <= RecordsLane.longestReport else {
            throw .invalid(field: "to", "a report covers at most 366 days; ask for one year at a time")
        }
        let department = request.optional("department")
        if let department, !configuration.departmentIDs.contains(department) {
            throw .unknownDepartment(department, known: configuration.departmentIDs.sorted())
        }
        self.init(client: client, from: from, to: to, department: department, configuration: configuration)
    }
}

extension RecordsLane.Export {
    /// `{"closed_before": "2026-01-01" or an ISO 8601 time, "department": "...", "after": ID, "limit": N}`.
    init(client: Frame, request: AgentRequest, departments: Set<String>) throws(AgentError) {
        let text = try request.string("closed_before")
        guard let before = CalendarDate.parse(text) else {
            throw .invalid(field: "closed_before", "must be a day (2026-01-31, midnight UTC) or an ISO 8601 time with its zone (2026-01-31T12:00:00Z)")
        }
        let department = request.optional("department")
        if let department, !departments.contains(department) { throw .unknownDepartment(department, known: departments.sorted()) }
        var after: InquiryID?
        if let text = request.optional("after") {
            guard let id = InquiryID(text) else { throw .invalid(field: "after", "not an inquiry id") }
            after = id
        }
        let limit = request.integer("limit") ?? RecordsLane.maxExportPage
        guard (1...RecordsLane.maxExportPage).contains(limit) else { throw .invalid(field: "limit", "must be 1 to \(RecordsLane.maxExportPage)") }
        self.init(client: client, closedBefore: before, department: department, after: after, limit: limit,
                  count: request.bool("count") ?? false)
    }

}
