import Foundation
import PostgresNIO
import SwitchboardCore

/// The projection on PostgreSQL: the SQLite store's tables and contract (``InquiryStore``),
/// in the database the city already runs, so that a standby broker on another machine
/// reads what the active one wrote.
///
/// Writes are few statements per projection transaction, whatever its size: rows of the
/// same kind go to the server as one JSON array, turned into rows there
/// (`jsonb_to_recordset`), as postgres-nio sends one statement per round trip. Reads
/// borrow a connection from a small pool; a transaction keeps its own connection from
/// BEGIN to COMMIT (``PostgresSession/transaction(_:_:)``).
public final class PostgresInquiryStore: InquiryStore {
    public let location: PostgresLocation
    private let pool: PostgresPool

    /// Connects to `location` and brings its tables up to date (a step at a time, each
    /// once, under an advisory lock: brokers starting together do not race).
    /// - Parameter timeouts: how long one statement may wait for the server, and how long
    ///   a transaction may wait on its broker before the server ends it (see
    ///   ``PostgresSession``). When brokers take over from each other, both are the lease
    ///   time: a broker that stands down must not wait longer on a connection that died.
    public init(location: PostgresLocation, connections: Int = 8,
                timeouts: (statement: Duration, idleInTransaction: Duration) = (.seconds(30), .seconds(10))) throws(StoreError) {
        self.location = location
        pool = PostgresPool(location, keeping: connections, statementTimeout: timeouts.statement, idleInTransactionTimeout: timeouts.idleInTransaction)
        try pool.withSession { session throws(StoreError) in try PostgresSchema.migrate(session) }
    }

    /// Closes the pool's idle connections.
    public func close() { pool.close() }

    // MARK: Writing

    public func commit(_ batch: JournalBatch) throws(StoreError) -> CommitResult {
        guard !batch.isEmpty else { return CommitResult() }
        return try write("commit") { transaction throws(StoreError) in try Self.apply([batch], transaction) }
    }

    public func project(_ entries: [(position: UInt64, batch: JournalBatch)]) throws(StoreError) -> CommitResult {
        guard let last = entries.last?.position else { return CommitResult() }
        let operation = "project the journal through \(last)"
        return try write(operation) { transaction throws(StoreError) in
            // The row is locked to the commit: two projectors (a broker taking over while
            // the old one still projects) apply each entry once, in order.
            let row = try transaction.run(operation, "SELECT position FROM switchboard_projection FOR UPDATE").first
            let held = UInt64(try row.map { row throws(StoreError) in try decode(Int64.self, row, "position", operation) } ?? 0)
            let fresh = entries.filter { $0.position > held }
            guard !fresh.isEmpty else { return CommitResult() }
            let result = try Self.apply(fresh.map(\.batch), transaction)
            try transaction.run(operation, "UPDATE switchboard_projection SET position = \(Int64(last))")
            return result
        }
    }

    public func projectedPosition() throws(StoreError) -> UInt64 {
        let operation = "read the projection's position"
        let rows = try query(operation, "SELECT position FROM switchboard_projection")
        return UInt64(try rows.first?.int64("position", operation) ?? 0)
    }

    public func stored(_ keys: [DeduplicationKey]) throws(StoreError) -> [DeduplicationKey: DuplicateOf] {
        guard !keys.isEmpty else { return [:] }
        let rows = try query("find duplicates", """
            SELECT i.platform, i.external_id, i.id, i.department, i.priority
            FROM switchboard_inquiry i JOIN unnest(\(keys.map(\.platform.rawValue)), \(keys.map(\.externalID))) AS k(platform, external_id)
                ON i.platform = k.platform AND i.external_id = k.external_id
            """)
        var found: [DeduplicationKey: DuplicateOf] = [:]
        for row in rows { if let (key, original) = StoredRows.original(row) { found[key] = original } }
        return found
    }

    /// One transaction for consecutive batches (``ProjectionWindow``), as the SQLite
    /// store does: the inquiry rows, the timeline, then each batch's messages and registry
    /// entries in order.
    private static func apply(_ batches: [JournalBatch], _ transaction: PostgresTransaction) throws(StoreError) -> CommitResult {
        let window = ProjectionWindow(batches)
        let result = try applyRows(window.inserts, window.records, transaction)
        try applyTimeline(window.timelines(skipping: result.duplicates), transaction)
        for batch in batches { try applyEvents(batch, skipping: result.duplicates, transaction) }
        return result
    }

    private static func applyRows(_ inserts: [AcceptedInquiry], _ records: [InquiryID: LifecycleRecord],
                                  _ transaction: PostgresTransaction) throws(StoreError) -> CommitResult {
        var result = CommitResult()
        if !inserts.isEmpty {
            let operation = "insert inquiries"
            let rows = inserts.map { inquiry in
                InquiryRow(inquiry.record, seq: inquiry.record.caseNumber > 0 ? inquiry.record.caseNumber : nil, key: inquiry.key,
                           envelope: inquiry.envelopeJSON, routing: inquiry.routingJSON, receivedAt: inquiry.receivedAt,
                           author: inquiry.author.map(CitizenHandle.normalized))
            }
            let written = try transaction.run(operation, """
                INSERT INTO switchboard_inquiry (seq, id, platform, external_id, department, priority, state, owner_kind, owner_id, deliveries,
                                                 envelope, routing, received_at, lifecycle, lease_expires_at, sla_next_at, author)
                SELECT COALESCE(r.seq, nextval('switchboard_case_number')), r.id, r.platform, r.external_id, r.department, r.priority, r.state,
                       r.owner_kind, r.owner_id, r.deliveries, r.envelope, r.routing, r.received_at, r.lifecycle, r.lease_expires_at,
                       r.sla_next_at, r.author
                FROM jsonb_to_recordset(\(try json(rows, operation))::jsonb) AS r(
                    seq bigint, id text, platform text, external_id text, department text, priority integer, state text, owner_kind text,
                    owner_id text, deliveries integer, envelope text, routing text, received_at text, lifecycle text,
                    lease_expires_at double precision, sla_next_at double precision, author text)
                ON CONFLICT (platform, external_id) DO NOTHING
                RETURNING id
                """)
            var stored = Set<String>()
            for row in written { stored.insert(try decode(String.self, row, "id", operation)) }
            for inquiry in inserts where !stored.contains(inquiry.id.description) {
                if let original = try duplicate(of: inquiry.key, transaction) { result.duplicates[inquiry.id] = original }
            }
            // Numbers the machine gave are not drawn from the sequence: move it past them,
            // so that a number is never given twice.
            if let highest = inserts.map(\.record.caseNumber).max(), highest > 0 {
                try transaction.run("number cases", """
                    SELECT setval('switchboard_case_number', \(highest)) FROM switchboard_case_number
                    WHERE NOT is_called OR last_value < \(highest)
                    """)
            }
        }
        let changed = records.filter { result.duplicates[$0.key] == nil }
        if !changed.isEmpty {
            let operation = "update inquiries"
            let rows = changed.values.map { InquiryRow($0) }
            try transaction.run(operation, """
                UPDATE switchboard_inquiry AS i SET state = r.state, owner_kind = r.owner_kind, owner_id = r.owner_id, department = r.department,
                    priority = r.priority, deliveries = r.deliveries, lifecycle = r.lifecycle, lease_expires_at = r.lease_expires_at,
                    sla_next_at = r.sla_next_at
                FROM jsonb_to_recordset(\(try json(rows, operation))::jsonb) AS r(
                    id text, department text, priority integer, state text, owner_kind text, owner_id text, deliveries integer,
                    lifecycle text, lease_expires_at double precision, sla_next_at double precision)
                WHERE i.id = r.id
                """)
        }
        return result
    }

    /// One timeline row per inquiry per transaction, and when each was closed (retention
    /// counts from the close; a reopen stops the count).
    private static func applyTimeline(_ timelines: [(inquiry: InquiryID, entries: [TimelineEntry])],
                                      _ transaction: PostgresTransaction) throws(StoreError) {
        var closedAt: [InquiryID: Double?] = [:]
        for entry in timelines.flatMap(\.entries) {
            if entry.to == .closed, entry.from != .closed {
                closedAt[entry.inquiry] = .some(entry.at.timeIntervalSince1970)
            } else if entry.from == .closed, entry.to != .closed {
                closedAt[entry.inquiry] = .some(nil)
            }
        }
        guard !timelines.isEmpty else { return }
        let operation = "write timelines"
        let rows = timelines.map { TimelineRow(inquiryID: $0.inquiry.description, entry: TimelineColumn.json($0.entries)) }
        try transaction.run(operation, """
            INSERT INTO switchboard_timeline (inquiry_id, entry)
            SELECT r.inquiry_id, r.entry FROM jsonb_to_recordset(\(try json(rows, operation))::jsonb) AS r(inquiry_id text, entry text)
            """)
        guard !closedAt.isEmpty else { return }
        let closes = closedAt.map { ClosedRow(id: $0.key.description, closedAt: $0.value) }
        // Reopened: what is written from now on is personal data again, for retention.
        try transaction.run(operation, """
            UPDATE switchboard_inquiry AS i SET closed_at = r.closed_at,
                anonymised_at = CASE WHEN r.closed_at IS NULL THEN NULL ELSE i.anonymised_at END
            FROM jsonb_to_recordset(\(try json(closes, operation))::jsonb) AS r(id text, closed_at double precision)
            WHERE i.id = r.id
            """)
    }

    /// A batch's messages and registry entries.
    private static func applyEvents(_ batch: JournalBatch, skipping skipped: [InquiryID: DuplicateOf],
                                    _ transaction: PostgresTransaction) throws(StoreError) {
        let operation = "write messages"
        let outbound = batch.outbound.filter { skipped[$0.inquiry] == nil }.map(MessageRow.init(outbound:))
        let inbound = batch.inbound.map(MessageRow.init(inbound:))
        for (rows, conflict) in [(outbound, ""), (inbound, " ON CONFLICT DO NOTHING")] where !rows.isEmpty {
            // A follow-up seen before (past the broker's memory of keys) is not stored twice.
            try transaction.run(operation, PostgresQuery(unsafeSQL: """
                INSERT INTO switchboard_message (id, inquiry_id, direction, kind, platform, account, external_id, in_reply_to, text, author,
                                                 recipient, thread)
                SELECT r.id, r.inquiry_id, r.direction, r.kind, r.platform, r.account, r.external_id, r.in_reply_to, r.text, r.author,
                       r.recipient, r.thread
                FROM jsonb_to_recordset($1::jsonb) AS r(id text, inquiry_id text, direction text, kind text, platform text, account text,
                                                        external_id text, in_reply_to text, text text, author text, recipient text, thread text)
                \(conflict)
                """, binds: try bindings(json(rows, operation))))
        }
        for channel in batch.channels {
            let entry: String
            do {
                entry = String(decoding: try StoredDocuments.channelEncoder.encode(channel), as: UTF8.self)
            } catch {
                throw StoreError(operation: "write the channel registry", underlying: error)
            }
            // A changed entry goes to the end of the registry's order, as SQLite's REPLACE does.
            try transaction.run("write the channel registry", """
                INSERT INTO switchboard_channel (id, platform, normalized, status, entry)
                VALUES (\(channel.id), \(channel.platform.rawValue), \(channel.normalized), \(channel.status.rawValue), \(entry))
                ON CONFLICT (id) DO UPDATE SET platform = EXCLUDED.platform, normalized = EXCLUDED.normalized, status = EXCLUDED.status,
                    entry = EXCLUDED.entry, seq = nextval(pg_get_serial_sequence('switchboard_channel', 'seq'))
                """)
        }
        for (id, at, postedAs) in batch.outboundSent {
            try transaction.run(operation, "UPDATE switchboard_message SET sent_at = \(at) WHERE id = \(id.description)")
            // The post's id is a hint for threading: one a platform gives twice must not
            // fail the whole batch (and with it every batch after it).
            if let postedAs {
                try transaction.run(operation, """
                    UPDATE switchboard_message AS m SET external_id = \(postedAs) WHERE m.id = \(id.description)
                    AND NOT EXISTS (SELECT 1 FROM switchboard_message o WHERE o.platform = m.platform AND o.external_id = \(postedAs))
                    """)
            }
        }
        for update in batch.outboundStatuses {
            if update.status == "failed" {
                try transaction.run(operation, """
                    UPDATE switchboard_message SET status = 'failed', ended_at = \(update.at), failure_code = \(update.code),
                        reason = \(update.reason.map(Self.text)) WHERE id = \(update.id.description)
                    """)
            } else {
                // Read implies delivered; a late "delivered" does not undo "read".
                try transaction.run(operation, """
                    UPDATE switchboard_message SET delivery = \(update.status)
                    WHERE id = \(update.id.description) AND (delivery IS NULL OR \(update.status) = 'read')
                    """)
            }
        }
        for ended in batch.outboundEnded {
            try transaction.run(operation, """
                UPDATE switchboard_message SET status = \(ended.status.rawValue), ended_at = \(ended.at), failure_code = \(ended.code),
                    reason = \(Self.text(ended.reason)) WHERE id = \(ended.id.description) AND sent_at IS NULL
                """)
        }
    }

    private static func duplicate(of key: DeduplicationKey, _ transaction: PostgresTransaction) throws(StoreError) -> DuplicateOf? {
        try transaction.run("find duplicate", """
            SELECT id, department, priority FROM switchboard_inquiry WHERE platform = \(key.platform.rawValue) AND external_id = \(key.externalID)
            """).collect().first.flatMap(StoredRows.duplicate)
    }

    // MARK: Reading

    public func inquiry(_ id: InquiryID) throws(StoreError) -> StoredInquiry? {
        let operation = "load inquiry"
        guard let row = try query(operation, "SELECT * FROM switchboard_inquiry WHERE id = \(id.description)").first else { return nil }
        return try decoding(operation) { try StoredRows.inquiry(row, id: id) }
    }

    public func inquiry(for key: DeduplicationKey) throws(StoreError) -> DuplicateOf? {
        try query("find duplicate", """
            SELECT id, department, priority FROM switchboard_inquiry WHERE platform = \(key.platform.rawValue) AND external_id = \(key.externalID)
            """).first.flatMap(StoredRows.duplicate)
    }

    public func recentKeys(limit: Int) throws(StoreError) -> [(key: DeduplicationKey, original: DuplicateOf)] {
        let operation = "load recent keys"
        let posts = try query(operation, """
            SELECT platform, external_id, id, department, priority FROM switchboard_inquiry ORDER BY seq DESC LIMIT \(limit)
            """)
        // Citizens' follow-ups threaded into conversations are posts too.
        let followUps = try query(operation, """
            SELECT m.platform, m.external_id, m.inquiry_id AS id, i.department, i.priority
            FROM switchboard_message m JOIN switchboard_inquiry i ON i.id = m.inquiry_id
            WHERE m.direction = 'in' AND m.external_id IS NOT NULL ORDER BY m.seq DESC LIMIT \(limit)
            """)
        return (posts + followUps).compactMap(StoredRows.original)
    }

    public func restorable() throws(StoreError) -> (queue: [RestorableInquiry], parked: Int) {
        let operation = "restore queues"
        // Per department, those a worker held first, then the queued, by priority and arrival.
        let rows = try query(operation, """
            SELECT id, department, priority, deliveries, owner_kind, state FROM switchboard_inquiry
            WHERE state IN ('in_progress', 'queued') AND (state = 'queued' OR owner_kind = \(Actor.Kind.worker.rawValue))
            ORDER BY department COLLATE "C", state = 'queued', priority, seq
            """)
        let queue = rows.compactMap { row -> RestorableInquiry? in
            guard let original = StoredRows.duplicate(row) else { return nil }
            return RestorableInquiry(id: original.id, department: original.department, priority: original.priority,
                                     deliveries: UInt16(clamping: row.int("deliveries") ?? 0), wasInFlight: row.string("state") == "in_progress")
        }
        let parked = try query(operation, "SELECT COUNT(*)::int8 AS parked FROM switchboard_inquiry WHERE state = 'parked'")
        return (queue, Int(try parked.first?.int64("parked", operation) ?? 0))
    }

    public func record(_ id: InquiryID) throws(StoreError) -> LifecycleRecord? {
        try inquiry(id)?.record
    }

    public func expiredLeases(before date: Date, limit: Int) throws(StoreError) -> [InquiryID] {
        try ids("find expired leases", """
            SELECT id FROM switchboard_inquiry WHERE lease_expires_at <= \(date.timeIntervalSince1970) ORDER BY lease_expires_at LIMIT \(limit)
            """)
    }

    public func dueSLAAlerts(before date: Date, limit: Int) throws(StoreError) -> [InquiryID] {
        try ids("find due SLA alerts", """
            SELECT id FROM switchboard_inquiry WHERE sla_next_at <= \(date.timeIntervalSince1970) ORDER BY sla_next_at LIMIT \(limit)
            """)
    }

    public func list(_ filter: InquiryFilter) throws(StoreError) -> InquiryPage {
        let operation = "list inquiries"
        var statement = StatementBuilder()
        var conditions: [String] = []
        if let department = filter.department { conditions.append("department = \(statement.bind(department))") }
        if let state = filter.state {
            conditions.append("state = \(statement.bind(state.rawValue))")
        } else if filter.openOnly {
            conditions.append("state <> 'closed'")
        }
        if let priority = filter.priority { conditions.append("priority = \(statement.bind(priority.rank))") }
        if let owner = filter.owner {
            conditions.append("owner_kind = \(statement.bind(owner.kind.rawValue)) AND owner_id = \(statement.bind(owner.id))")
        }
        let clause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let total = try query(operation, statement.query("SELECT COUNT(*)::int8 AS total FROM switchboard_inquiry" + clause))
        let limit = statement.bind(filter.limit), offset = statement.bind(filter.offset)
        let now = Date()
        let items = try query(operation, statement.query("""
            SELECT id, department, state, priority, owner_kind, owner_id, received_at, platform, envelope, lifecycle, seq,
                   (SELECT COUNT(*)::int8 FROM switchboard_message m WHERE m.inquiry_id = i.id AND m.direction = 'out'
                        AND m.sent_at IS NULL AND m.status IS NULL) AS unsent,
                   routing::jsonb #>> '{unofficial_channel,reason}' AS unofficial
            FROM switchboard_inquiry i\(clause)
            ORDER BY priority, seq LIMIT \(limit) OFFSET \(offset)
            """)).compactMap { StoredRows.summary($0, at: now) }
        return InquiryPage(items: items, total: Int(try total.first?.int64("total", operation) ?? 0))
    }

    public func publicStatuses(_ query: PublicStatusQuery) throws(StoreError) -> [PublicStatus] {
        let operation = "list public statuses"
        var statement = StatementBuilder()
        var conditions: [String] = []
        if !query.caseNumbers.isEmpty {
            conditions.append("seq IN (\(query.caseNumbers.map { statement.bind($0) }.joined(separator: ", ")))")
        } else {
            if !query.departments.isEmpty {
                conditions.append("department IN (\(query.departments.map { statement.bind($0) }.joined(separator: ", ")))")
            }
            if let closed = query.closed { conditions.append(closed ? "state = 'closed'" : "state <> 'closed'") }
            if let from = query.receivedFrom { conditions.append("received_at >= \(statement.bind(from))") }
            if let before = query.receivedBefore { conditions.append("received_at < \(statement.bind(before))") }
            let ids = receivedIDRange(from: query.receivedFrom, before: query.receivedBefore)
            if let low = ids.low { conditions.append("id >= \(statement.bind(low))") }
            if let high = ids.high { conditions.append("id < \(statement.bind(high))") }
        }
        let clause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let limit = statement.bind(query.limit)
        let rows = try self.query(operation, statement.query("""
            SELECT id, seq, department, state, priority, owner_kind, owner_id, lifecycle, lease_expires_at, deliveries, received_at,
                   (SELECT entry FROM switchboard_timeline t WHERE t.inquiry_id = i.id ORDER BY t.seq DESC LIMIT 1) AS last_entry
            FROM switchboard_inquiry i\(clause) ORDER BY seq DESC LIMIT \(limit)
            """))
        do {
            return try rows.compactMap { try StoredRows.publicStatus($0) }
        } catch {
            throw StoreError(operation: operation, underlying: error)
        }
    }

    public func reportInquiries(receivedFrom from: String, before: String, department: String?, after: InquiryID?,
                                limit: Int) throws(StoreError) -> [ReportInquiry] {
        let operation = "read the report's inquiries"
        var statement = StatementBuilder()
        let ids = receivedIDRange(from: from, before: before)
        let range = "received_at >= \(statement.bind(from)) AND received_at < \(statement.bind(before))"
            + " AND id >= \(statement.bind(ids.low ?? "")) AND id < \(statement.bind(ids.high ?? "g"))"
            + " AND id COLLATE \"C\" > \(statement.bind(after?.description ?? ""))"
        let only = department.map { " AND department = \(statement.bind($0))" } ?? ""
        let most = statement.bind(limit)
        // A page of inquiries by id (their arrival order), each with its whole timeline.
        let rows = try query(operation, statement.query("""
            SELECT i.id, i.platform, i.department, i.state, i.priority, i.owner_kind, i.owner_id, i.lifecycle, i.lease_expires_at,
                   i.deliveries, i.received_at, i.routing::jsonb #>> '{unofficial_channel,reason}' AS unofficial, t.entry AS entry
            FROM switchboard_inquiry i LEFT JOIN switchboard_timeline t ON t.inquiry_id = i.id
            WHERE i.id IN (SELECT id FROM switchboard_inquiry WHERE \(range)\(only) ORDER BY id COLLATE "C" LIMIT \(most))
            ORDER BY i.id COLLATE "C", t.seq
            """))
        do {
            return try StoredRows.reportInquiries(rows)
        } catch {
            throw StoreError(operation: operation, underlying: error)
        }
    }

    public func ids(withPrefix prefix: String, limit: Int) throws(StoreError) -> [InquiryID] {
        let lowered = prefix.lowercased()
        guard !lowered.isEmpty, lowered.allSatisfy({ $0.isHexDigit || $0 == "-" }) else { return [] }
        return try ids("find ids by prefix", """
            SELECT id FROM switchboard_inquiry WHERE id COLLATE "C" >= \(lowered) AND id COLLATE "C" < \(lowered + "\u{7f}")
            ORDER BY id COLLATE "C" LIMIT \(limit)
            """)
    }

    public func timeline(_ id: InquiryID) throws(StoreError) -> [TimelineEntry] {
        let operation = "read timeline"
        let rows = try query(operation, "SELECT entry FROM switchboard_timeline WHERE inquiry_id = \(id.description) ORDER BY seq")
        return try decoding(operation) { try rows.flatMap { try TimelineColumn.decode($0.string("entry") ?? "") } }
    }

    public func pendingOutbound() throws(StoreError) -> [OutboundMessage] {
        try query("restore outbound messages", """
            SELECT * FROM switchboard_message WHERE direction = 'out' AND sent_at IS NULL AND status IS NULL ORDER BY seq
            """).compactMap(StoredRows.outbound)
    }

    public func outbound(_ id: InquiryID) throws(StoreError) -> OutboundMessage? {
        try query("load outbound message", "SELECT * FROM switchboard_message WHERE id = \(id.description) AND direction = 'out'")
            .first.flatMap(StoredRows.outbound)
    }

    public func outbound(platform: Platform, postedAs externalID: String) throws(StoreError) -> OutboundMessage? {
        try query("find a posted message", """
            SELECT * FROM switchboard_message WHERE platform = \(platform.rawValue) AND external_id = \(externalID) AND direction = 'out'
            """).first.flatMap(StoredRows.outbound)
    }

    public func outbound(platform: Platform, recipient: String, sentBy: String, notYet status: String) throws(StoreError) -> [OutboundMessage] {
        // Read implies delivered: a message already read is not "delivered" again.
        try query("find messages to a citizen", """
            SELECT * FROM switchboard_message WHERE platform = \(platform.rawValue) AND recipient = \(recipient) AND direction = 'out'
            AND sent_at IS NOT NULL AND sent_at <= \(sentBy) AND (delivery IS NULL OR (delivery = 'delivered' AND \(status) = 'read'))
            ORDER BY seq
            """).compactMap(StoredRows.outbound)
    }

    public func conversation(_ id: InquiryID) throws(StoreError) -> [ConversationMessage] {
        try query("read conversation", "SELECT * FROM switchboard_message WHERE inquiry_id = \(id.description) ORDER BY seq")
            .compactMap(StoredRows.conversationMessage)
    }

    public func inquiry(case number: Int) throws(StoreError) -> InquiryID? {
        try ids("find a case number", "SELECT id FROM switchboard_inquiry WHERE seq = \(number)").first
    }

    public func lastCaseNumber() throws(StoreError) -> Int {
        let operation = "read the last case number"
        // The sequence's own record: the highest number ever drawn, deleted rows too.
        let rows = try query(operation, """
            SELECT GREATEST((SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM switchboard_case_number),
                            (SELECT COALESCE(MAX(seq), 0) FROM switchboard_inquiry))::int8 AS last
            """)
        return Int(try rows.first?.int64("last", operation) ?? 0)
    }

    public func installationID() throws(StoreError) -> String {
        try query("read the installation id", "SELECT id FROM switchboard_installation").first?.string("id") ?? ""
    }

    /// The key of the erasure audit's hash, shared by every broker of the database.
    public func erasureAuditKey() throws(StoreError) -> [UInt8] {
        let operation = "read the erasure audit key"
        guard let row = try query(operation, "SELECT erasure_audit_key FROM switchboard_installation").first else { return [] }
        do {
            var bytes = try row["erasure_audit_key"].decode(ByteBuffer.self)
            return bytes.readBytes(length: bytes.readableBytes) ?? []
        } catch {
            throw StoreError(operation: operation, underlying: PostgresFailure(error))
        }
    }

    public func awaitingCitizen() throws(StoreError) -> (inquiries: [StoredInquiry], threads: [ThreadKey]) {
        let operation = "find inquiries awaiting the citizen"
        let rows = try query(operation, "SELECT * FROM switchboard_inquiry WHERE state = 'awaiting_citizen'")
        let inquiries = try decoding(operation) {
            try rows.compactMap { row in try row.string("id").flatMap(InquiryID.init).flatMap { try StoredRows.inquiry(row, id: $0) } }
        }
        var threads = inquiries.map { ThreadKey(key: $0.key, inquiry: $0.id) }
        let posted = try query("find posted messages", """
            SELECT m.platform, m.external_id, m.inquiry_id FROM switchboard_message m JOIN switchboard_inquiry i ON i.id = m.inquiry_id
            WHERE i.state = 'awaiting_citizen' AND m.direction = 'out' AND m.external_id IS NOT NULL
            """)
        for row in posted {
            guard let platform = row.string("platform").flatMap(Platform.init(rawValue:)), let id = row.string("inquiry_id").flatMap(InquiryID.init),
                  let post = row.string("external_id") else { continue }
            threads.append(ThreadKey(key: DeduplicationKey(platform: platform, externalID: post), inquiry: id))
        }
        return (inquiries, threads)
    }

    public func channels() throws(StoreError) -> [ChannelEntry] {
        let operation = "load the channel registry"
        let rows = try query(operation, "SELECT entry FROM switchboard_channel ORDER BY seq")
        return try decoding(operation) {
            try rows.map { try StoredDocuments.decoder.decode(ChannelEntry.self, from: Data(($0.string("entry") ?? "").utf8)) }
        }
    }

    public func stateCounts() throws(StoreError) -> [StateCount] {
        let rows = try query("count open inquiries", """
            SELECT department, state, owner_kind, COUNT(*)::int8 AS count FROM switchboard_inquiry WHERE state <> 'closed'
            GROUP BY department, state, owner_kind ORDER BY department COLLATE "C", state, owner_kind
            """)
        return rows.compactMap { row in
            guard let department = row.string("department"), let state = row.string("state").flatMap(LifecycleState.init(rawValue:)) else { return nil }
            return StateCount(department: department, state: state, ownerKind: row.string("owner_kind").flatMap(Actor.Kind.init(rawValue:)),
                              count: row.int("count") ?? 0)
        }
    }

    // MARK: Data protection

    public func purgeExpired(_ policy: RetentionPolicy, now: Date, limit: Int, after cursor: RetentionCursor?) throws(StoreError) -> RetentionBatch {
        let operation = "purge expired personal data"
        // As the SQLite store: the shortest period bounds the scan, each candidate is held
        // to its own, and the cursor goes on past those not yet due.
        return try write(operation) { transaction throws(StoreError) in
            let candidates = try transaction.run(operation, """
                SELECT seq, id, department, lifecycle::jsonb #>> '{lifecycle,resolution}' AS resolution, closed_at FROM switchboard_inquiry
                WHERE closed_at IS NOT NULL AND anonymised_at IS NULL AND closed_at < \(now.timeIntervalSince1970 - policy.shortestPeriod)
                  AND state = 'closed' AND (closed_at, seq) > (\(cursor?.closedAt ?? -Double.greatestFiniteMagnitude), \(cursor?.row ?? Int64.min))
                ORDER BY closed_at, seq LIMIT \(limit)
                """).collect()
            var batch = RetentionBatch(purged: [:], examined: candidates.count, cursor: cursor)
            for row in candidates {
                let department = row.string("department") ?? ""
                let closedAt = row.double("closed_at") ?? 0
                batch.cursor = RetentionCursor(closedAt: closedAt, row: Int64(row.int("seq") ?? 0))
                let resolution = row.string("resolution").flatMap(Resolution.init(rawValue:))
                guard closedAt + policy.period(department: department, resolution: resolution) < now.timeIntervalSince1970,
                      let id = row.string("id") else { continue }
                if try Self.anonymise(id, at: now, transaction) { batch.purged[department, default: 0] += 1 }
            }
            return batch
        }
    }

    public func citizenRecords(platform: Platform, handle: String) throws(StoreError) -> CitizenRecords {
        let author = CitizenHandle.normalized(handle)
        let rows = try query("find a citizen's inquiries", """
            SELECT id, state, external_id, anonymised_at FROM switchboard_inquiry WHERE platform = \(platform.rawValue) AND author = \(author)
            ORDER BY seq
            """)
        var closed: [(InquiryID, DeduplicationKey)] = [], open: [InquiryID] = [], anonymised = 0
        for row in rows {
            guard let id = row.string("id").flatMap(InquiryID.init) else { continue }
            if row.string("state") == LifecycleState.closed.rawValue {
                closed.append((id, DeduplicationKey(platform: platform, externalID: row.string("external_id") ?? "")))
                if row.double("anonymised_at") != nil { anonymised += 1 }
            } else {
                open.append(id)
            }
        }
        let messageRows = try query("find a citizen's messages", """
            SELECT m.direction, m.external_id FROM switchboard_message m JOIN switchboard_inquiry i ON i.id = m.inquiry_id
            WHERE i.platform = \(platform.rawValue) AND i.author = \(author) AND i.state = 'closed'
            """)
        let followUps = messageRows.compactMap { row -> DeduplicationKey? in
            guard row.string("direction") == "in", let post = row.string("external_id") else { return nil }
            return DeduplicationKey(platform: platform, externalID: post)
        }
        return CitizenRecords(closed: closed, open: open, messages: messageRows.count, alreadyAnonymised: anonymised, followUps: followUps)
    }

    public func erase(_ ids: [InquiryID], audits: [ErasureAudit], identities: [CitizenIdentity]) throws(StoreError) -> ErasureOutcome {
        let operation = "erase a citizen's personal data"
        let erased = try write(operation) { transaction throws(StoreError) in
            // Only what is still closed now: a reopen committed since the request was read
            // keeps its data (the answer names it).
            var erased: [InquiryID] = []
            for id in ids where try Self.anonymise(id.description, at: audits.first?.at ?? Date(), transaction) { erased.append(id) }
            for audit in audits {
                // One identity: what was erased is its count (a reopen meanwhile keeps its data).
                let inquiries = audits.count == 1 ? erased.count : audit.inquiries
                try transaction.run(operation, """
                    INSERT INTO switchboard_erasure_audit (at, actor, platform, citizen_hash, inquiries, messages)
                    VALUES (\(audit.at.timeIntervalSince1970), \(audit.actor), \(audit.platform.rawValue), \(audit.citizenHash), \(inquiries),
                            \(audit.messages))
                    """)
            }
            try Self.forgetLinks(of: identities, hashes: audits.map(\.citizenHash), transaction)
            return erased
        }
        return ErasureOutcome(erased: erased, logTruncated: (try? truncateLog()) != nil)
    }

    public func erasures(citizenHash: String) throws(StoreError) -> [Date] {
        try query("read the erasure audit", "SELECT at FROM switchboard_erasure_audit WHERE citizen_hash = \(citizenHash) ORDER BY seq")
            .compactMap { $0.double("at").map(Date.init(timeIntervalSince1970:)) }
    }

    /// VACUUMs the tables an erasure or retention run rewrote, so the removed row
    /// versions are gone from their pages. PostgreSQL's write-ahead log, its archive and
    /// the city's backups are the database's own (see 7/SB-PRIVACY): they are recycled on
    /// the schedule the city set for them, not by the broker.
    public func truncateLog() throws(StoreError) {
        _ = try pool.withSession { session throws(StoreError) in
            try session.run("vacuum after an erasure", """
                VACUUM switchboard_inquiry, switchboard_message, switchboard_timeline, switchboard_citizen_link, switchboard_citizen_link_audit
                """)
        }
    }

    /// As the SQLite store's: the envelope keeps its id, times, platform and official
    /// account; the post's id and the handle go; messages lose their text; timeline
    /// entries lose their notes.
    private static func anonymise(_ id: String, at now: Date, _ transaction: PostgresTransaction) throws(StoreError) -> Bool {
        let operation = "anonymise an inquiry"
        let changed = try transaction.run(operation, """
            UPDATE switchboard_inquiry SET
                envelope = jsonb_build_object('id', id, 'received_at', received_at,
                                              'source', jsonb_build_object('platform', platform, 'account', envelope::jsonb #> '{source,account}'),
                                              'captured_at', envelope::jsonb -> 'captured_at', 'anonymised', true)::text,
                routing = jsonb_build_object('department', routing::jsonb -> 'department', 'priority', routing::jsonb -> 'priority',
                                             'rule', routing::jsonb -> 'rule', 'tags', COALESCE(routing::jsonb -> 'tags', '[]'::jsonb))::text,
                external_id = 'anonymised:' || id, author = NULL, anonymised_at = \(now.timeIntervalSince1970)
            WHERE id = \(id) AND state = 'closed'
            """)
        guard (changed.metadata.rows ?? 0) > 0 else { return false }
        // A reply still waiting for its gateway is not sent any more: its text is gone.
        try transaction.run(operation, "DELETE FROM switchboard_message WHERE inquiry_id = \(id) AND direction = 'out' AND sent_at IS NULL")
        try transaction.run(operation, "UPDATE switchboard_message SET text = '', in_reply_to = NULL, external_id = NULL WHERE inquiry_id = \(id)")
        let notes = try transaction.run(operation, """
            SELECT seq, entry FROM switchboard_timeline WHERE inquiry_id = \(id) AND position('"note"' in entry) > 0
            """).collect()
        for row in notes {
            let entries = try decoding(operation) {
                try TimelineColumn.decode(row.string("entry") ?? "").map { entry in
                    var entry = entry
                    entry.note = nil
                    return entry
                }
            }
            try transaction.run(operation, "UPDATE switchboard_timeline SET entry = \(TimelineColumn.json(entries)) WHERE seq = \(row.int("seq") ?? 0)")
        }
        return true
    }

    public func countClosed(before: Date, department: String?, after: InquiryID?) throws(StoreError) -> Int {
        let operation = "count closed inquiries"
        var statement = StatementBuilder()
        let filter = Self.exportFilter(before: before, department: department, after: after, &statement)
        let rows = try query(operation, statement.query("SELECT COUNT(*)::int8 AS count FROM switchboard_inquiry \(filter)"))
        return Int(try rows.first?.int64("count", operation) ?? 0)
    }

    public func exportClosed(before: Date, department: String?, after: InquiryID?, limit: Int) throws(StoreError) -> [ExportRecord] {
        let operation = "export closed inquiries"
        var statement = StatementBuilder()
        let filter = Self.exportFilter(before: before, department: department, after: after, &statement)
        let limit = statement.bind(limit)
        let rows = try query(operation, statement.query("SELECT * FROM switchboard_inquiry \(filter) ORDER BY id COLLATE \"C\" LIMIT \(limit)"))
        var records: [ExportRecord] = []
        for row in rows {
            guard let id = row.string("id").flatMap(InquiryID.init) else { continue }
            let timeline = try query(operation, "SELECT entry FROM switchboard_timeline WHERE inquiry_id = \(id.description) ORDER BY seq")
            let messages = try query(operation, "SELECT * FROM switchboard_message WHERE inquiry_id = \(id.description) ORDER BY seq")
            records.append(try decoding(operation) {
                ExportRecord(id: id, department: row.string("department") ?? "", envelopeJSON: row.string("envelope") ?? "",
                             routingJSON: row.string("routing") ?? "",
                             lifecycleJSON: row.string("lifecycle") == nil ? nil : LifecycleColumn.document(try StoredRows.record(row, id: id)),
                             closedAt: row.double("closed_at").map(Date.init(timeIntervalSince1970:)),
                             anonymisedAt: row.double("anonymised_at").map(Date.init(timeIntervalSince1970:)),
                             timelineJSON: try timeline.flatMap { try TimelineColumn.decode($0.string("entry") ?? "").map(TimelineColumn.json) },
                             messages: messages.map(StoredRows.exportMessage))
            })
        }
        return records
    }

    private static func exportFilter(before: Date, department: String?, after: InquiryID?, _ statement: inout StatementBuilder) -> String {
        var sql = "WHERE state = 'closed' AND closed_at < \(statement.bind(before.timeIntervalSince1970))"
        if let department { sql += " AND department = \(statement.bind(department))" }
        if let after { sql += " AND id COLLATE \"C\" > \(statement.bind(after.description))" }
        return sql
    }

    // MARK: Connections

    func query(_ operation: String, _ query: PostgresQuery) throws(StoreError) -> [PostgresRandomAccessRow] {
        try pool.withSession { session throws(StoreError) in try session.run(operation, query).collect() }
    }

    private func ids(_ operation: String, _ query: PostgresQuery) throws(StoreError) -> [InquiryID] {
        try self.query(operation, query).compactMap { $0.string("id").flatMap(InquiryID.init) }
    }

    func write<T>(_ operation: String, _ body: (PostgresTransaction) throws(StoreError) -> T) throws(StoreError) -> T {
        try pool.withSession { session throws(StoreError) in try session.transaction(operation, body) }
    }

    /// Text PostgreSQL can hold: it refuses the NUL character, which a platform's text
    /// may carry; everything else is kept.
    static func text(_ value: String) -> String {
        value.contains("\u{0}") ? value.replacingOccurrences(of: "\u{0}", with: "") : value
    }

    private static func json(_ rows: some Encodable, _ operation: String) throws(StoreError) -> String {
        do {
            return String(decoding: try rowEncoder.encode(rows), as: UTF8.self)
        } catch {
            throw StoreError(operation: operation, underlying: error)
        }
    }

    private static func bindings(_ json: String) -> PostgresBindings {
        var bindings = PostgresBindings()
        bindings.append(json)
        return bindings
    }

    private static let rowEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return encoder
    }()
}

private func decoding<T>(_ operation: String, _ body: () throws -> T) throws(StoreError) -> T {
    do {
        return try body()
    } catch let error as StoreError {
        throw error
    } catch {
        throw StoreError(operation: operation, underlying: error)
    }
}

// MARK: Rows sent as JSON (`jsonb_to_recordset`): property names are the columns', in snake case.

/// An inquiry row, whole (an insert) or its moving parts (an update: no key or documents).
private struct InquiryRow: Encodable {
    var seq: Int?
    var id: String
    var platform: String?
    var externalID: String?
    var department: String
    var priority: Int
    var state: String
    var ownerKind: String?
    var ownerID: String?
    var deliveries: Int
    var envelope: String?
    var routing: String?
    var receivedAt: String?
    var lifecycle: String
    var leaseExpiresAt: Double?
    var slaNextAt: Double?
    var author: String?

    init(_ record: LifecycleRecord, seq: Int? = nil, key: DeduplicationKey? = nil, envelope: String? = nil, routing: String? = nil,
         receivedAt: String? = nil, author: String? = nil) {
        self.seq = seq
        id = record.id.description
        platform = key?.platform.rawValue
        externalID = key?.externalID
        department = record.lifecycle.department
        priority = record.priority.rank
        state = record.lifecycle.state.rawValue
        ownerKind = record.lifecycle.owner?.kind.rawValue
        ownerID = record.lifecycle.owner?.id
        deliveries = Int(record.deliveries)
        self.envelope = envelope
        self.routing = routing
        self.receivedAt = receivedAt
        lifecycle = LifecycleColumn.json(record)
        leaseExpiresAt = record.leaseExpiresAt?.timeIntervalSince1970
        slaNextAt = record.sla.nextAlert?.timeIntervalSince1970
        self.author = author
    }

    enum CodingKeys: String, CodingKey {
        case seq, id, platform, externalID = "externalId", department, priority, state, ownerKind, ownerID = "ownerId", deliveries, envelope,
             routing, receivedAt, lifecycle, leaseExpiresAt, slaNextAt, author
    }
}

private struct TimelineRow: Encodable {
    var inquiryID: String
    var entry: String

    enum CodingKeys: String, CodingKey { case inquiryID = "inquiryId", entry }
}

private struct ClosedRow: Encodable {
    var id: String
    var closedAt: Double?

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        // Written as null, not left out: a reopen clears the close.
        try container.encode(closedAt, forKey: .closedAt)
    }

    enum CodingKeys: String, CodingKey { case id, closedAt }
}

private struct MessageRow: Encodable {
    var id: String
    var inquiryID: String
    var direction: String
    var kind: String
    var platform: String
    var account: String?
    var externalID: String?
    var inReplyTo: String?
    var text: String
    var author: String?
    var recipient: String?
    var thread: String?

    init(outbound message: OutboundMessage) {
        id = message.id.description
        inquiryID = message.inquiry.description
        direction = "out"
        kind = message.kind.rawValue
        platform = message.platform.rawValue
        account = message.account
        inReplyTo = message.inReplyTo
        text = PostgresInquiryStore.text(message.text)
        author = message.author
        recipient = message.recipient
        thread = message.thread
    }

    init(inbound message: InboundMessage) {
        id = message.id.description
        inquiryID = message.inquiry.description
        direction = "in"
        kind = message.kind
        platform = message.key.platform.rawValue
        externalID = message.key.externalID
        inReplyTo = message.inReplyTo
        text = PostgresInquiryStore.text(message.text)
    }

    enum CodingKeys: String, CodingKey {
        case id, inquiryID = "inquiryId", direction, kind, platform, account, externalID = "externalId", inReplyTo, text, author, recipient, thread
    }
}

/// A statement whose conditions depend on the request, with its values bound as `$n`.
struct StatementBuilder {
    private var bindings = PostgresBindings()

    /// Binds `value` and returns its placeholder.
    mutating func bind(_ value: some PostgresNonThrowingEncodable) -> String {
        bindings.append(value)
        return "$\(bindings.count)"
    }

    func query(_ sql: String) -> PostgresQuery { PostgresQuery(unsafeSQL: sql, binds: bindings) }
}

extension PostgresRandomAccessRow: StoredRow {
    func string(_ column: String) -> String? { contains(column) ? (try? self[column].decode(String?.self)) ?? nil : nil }
    func int(_ column: String) -> Int? { contains(column) ? (try? self[column].decode(Int?.self)) ?? nil : nil }
    func double(_ column: String) -> Double? { contains(column) ? (try? self[column].decode(Double?.self)) ?? nil : nil }

    func int64(_ column: String, _ operation: String) throws(StoreError) -> Int64 {
        do {
            return try self[column].decode(Int64.self)
        } catch {
            throw StoreError(operation: operation, underlying: PostgresFailure(error))
        }
    }
}

extension PostgresQueryResult {
    /// Every row, readable by column name.
    func collect() -> [PostgresRandomAccessRow] { map { $0.makeRandomAccess() } }
}
