import Foundation
import PostgresNIO
import SwitchboardCore

/// ``CitizenDirectory`` on PostgreSQL: the SQLite store's tables and reads (schema step
/// v5-citizen-links), so a broker that takes over sees the links the other one made.
extension PostgresInquiryStore {
    public func links(touching identities: [CitizenIdentity]) throws(StoreError) -> [CitizenLink] {
        guard !identities.isEmpty else { return [] }
        var statement = StatementBuilder()
        let ends = identities.map { identity in
            let platform = statement.bind(identity.platform.rawValue), handle = statement.bind(identity.handle)
            return "(a_platform = \(platform) AND a_handle = \(handle)) OR (b_platform = \(platform) AND b_handle = \(handle))"
        }
        return try query("read a citizen's links", statement.query("""
            SELECT a_platform, a_handle, b_platform, b_handle, actor, note, at FROM switchboard_citizen_link WHERE \(ends.joined(separator: " OR "))
            """)).compactMap(StoredRows.citizenLink)
    }

    public func link(_ link: CitizenLink, audit: CitizenLinkAudit) throws(StoreError) -> Bool {
        let operation = "link two identities"
        return try write(operation) { transaction throws(StoreError) in
            let made = try transaction.run(operation, """
                INSERT INTO switchboard_citizen_link (a_platform, a_handle, b_platform, b_handle, actor, note, at)
                VALUES (\(link.a.platform.rawValue), \(Self.text(link.a.handle)), \(link.b.platform.rawValue), \(Self.text(link.b.handle)),
                        \(Self.text(link.actor)),
                        \(Self.text(link.note)), \(link.at.timeIntervalSince1970))
                ON CONFLICT DO NOTHING
                """)
            guard (made.metadata.rows ?? 0) > 0 else { return false }
            try Self.insert(audit, transaction)
            return true
        }
    }

    public func unlink(_ a: CitizenIdentity, _ b: CitizenIdentity, audit: CitizenLinkAudit) throws(StoreError) -> Bool {
        let operation = "unlink two identities"
        let (first, second) = a < b ? (a, b) : (b, a)
        return try write(operation) { transaction throws(StoreError) in
            let removed = try transaction.run(operation, """
                DELETE FROM switchboard_citizen_link
                WHERE a_platform = \(first.platform.rawValue) AND a_handle = \(first.handle)
                  AND b_platform = \(second.platform.rawValue) AND b_handle = \(second.handle)
                """)
            guard (removed.metadata.rows ?? 0) > 0 else { return false }
            try Self.insert(audit, transaction)
            return true
        }
    }

    public func linkAudit(hashes: [String], limit: Int) throws(StoreError) -> [CitizenLinkAudit] {
        guard !hashes.isEmpty else { return [] }
        return try query("read the link audit", """
            SELECT at, actor, action, a_hash, b_hash, note FROM switchboard_citizen_link_audit
            WHERE a_hash = ANY(\(hashes)) OR b_hash = ANY(\(hashes)) ORDER BY seq DESC LIMIT \(limit)
            """).compactMap(StoredRows.linkAudit).reversed().map { $0 }
    }

    public func citizenInquiries(_ identities: [CitizenIdentity], limit: Int) throws(StoreError) -> [CitizenInquiry] {
        guard !identities.isEmpty else { return [] }
        var statement = StatementBuilder()
        let authors = identities.map { "(platform = \(statement.bind($0.platform.rawValue)) AND author = \(statement.bind($0.handle)))" }
        // Every value is bound before the statement is made from the builder.
        let most = statement.bind(limit)
        return try query("read a citizen's inquiries", statement.query("""
            SELECT id, seq, platform, author, state, department, received_at,
                   lifecycle::jsonb #>> '{lifecycle,resolution}' AS resolution, lifecycle::jsonb #>> '{lifecycle,duplicateOf}' AS duplicate_of,
                   envelope::jsonb ->> 'text' AS text, envelope::jsonb #>> '{author,display_name}' AS author_name
            FROM switchboard_inquiry WHERE author IS NOT NULL AND (\(authors.joined(separator: " OR ")))
            ORDER BY seq DESC LIMIT \(most)
            """)).compactMap(StoredRows.citizenInquiry)
    }

    public func identities(mentioning hint: ContactHint, name: String?, receivedFrom from: String,
                           limit: Int) throws(StoreError) -> [(identity: CitizenIdentity, inquiry: InquiryID)] {
        var statement = StatementBuilder()
        let condition: String
        switch hint {
        case .email(let address):
            condition = "position(\(statement.bind(address)) in lower(envelope::jsonb ->> 'text')) > 0"
        case .phone(let digits):
            let number = statement.bind(digits)
            condition = "(position(\(number) in regexp_replace(envelope::jsonb ->> 'text', '[ ().-]', '', 'g')) > 0"
                + " OR (platform = 'whatsapp' AND right(author, 9) = \(number)))"
        case .platform(let platform):
            guard let name, !name.isEmpty else { return [] }
            condition = "platform = \(statement.bind(platform.rawValue)) AND lower(envelope::jsonb #>> '{author,display_name}') = lower(\(statement.bind(name)))"
        case .identity:
            return []
        }
        let low = statement.bind(receivedIDRange(from: from, before: nil).low ?? ""), since = statement.bind(from), most = statement.bind(limit)
        let rows = try query("find identities mentioning a contact", statement.query("""
            SELECT id, platform, author FROM switchboard_inquiry
            WHERE id >= \(low) AND received_at >= \(since) AND author IS NOT NULL AND \(condition)
            ORDER BY seq DESC LIMIT \(most)
            """))
        return rows.compactMap { row in
            guard let id = row.string("id").flatMap(InquiryID.init), let platform = row.string("platform").flatMap(Platform.init(rawValue:)),
                  let author = row.string("author") else { return nil }
            return (CitizenIdentity(platform: platform, normalizedHandle: author), id)
        }
    }

    private static func insert(_ audit: CitizenLinkAudit, _ transaction: PostgresTransaction) throws(StoreError) {
        try transaction.run("audit a link", """
            INSERT INTO switchboard_citizen_link_audit (at, actor, action, a_hash, b_hash, note)
            VALUES (\(audit.at.timeIntervalSince1970), \(audit.actor), \(audit.action.rawValue), \(audit.aHash), \(audit.bHash),
                    \(audit.note.map(Self.text)))
            """)
    }

    /// An erasure's part in the links, as the SQLite store's.
    static func forgetLinks(of identities: [CitizenIdentity], hashes: [String], _ transaction: PostgresTransaction) throws(StoreError) {
        let operation = "remove an erased citizen's links"
        for identity in identities {
            try transaction.run(operation, """
                DELETE FROM switchboard_citizen_link
                WHERE (a_platform = \(identity.platform.rawValue) AND a_handle = \(identity.handle))
                   OR (b_platform = \(identity.platform.rawValue) AND b_handle = \(identity.handle))
                """)
        }
        guard !hashes.isEmpty else { return }
        try transaction.run(operation, """
            UPDATE switchboard_citizen_link_audit SET note = NULL WHERE a_hash = ANY(\(hashes)) OR b_hash = ANY(\(hashes))
            """)
    }
}
