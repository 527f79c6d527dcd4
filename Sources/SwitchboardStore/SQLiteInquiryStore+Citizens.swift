import Foundation
import GRDB
import SwitchboardCore

/// ``CitizenDirectory`` on SQLite: the `citizen_link` and `citizen_link_audit` tables
/// (migration v16), and reads of the inquiry table by author.
extension SQLiteInquiryStore {
    public func links(touching identities: [CitizenIdentity]) throws(StoreError) -> [CitizenLink] {
        guard !identities.isEmpty else { return [] }
        return try read("read a citizen's links") { db in
            // One statement, each link row once, whichever end matched.
            let ends = Array(repeating: "(a_platform = ? AND a_handle = ?) OR (b_platform = ? AND b_handle = ?)", count: identities.count)
            let arguments = StatementArguments(identities.flatMap { [$0.platform.rawValue, $0.handle, $0.platform.rawValue, $0.handle] })
            return try Row.fetchAll(db, sql: "SELECT * FROM citizen_link WHERE \(ends.joined(separator: " OR "))", arguments: arguments)
                .compactMap(StoredRows.citizenLink)
        }
    }

    public func link(_ link: CitizenLink, audit: CitizenLinkAudit) throws(StoreError) -> Bool {
        do {
            return try database.write { db in
                try db.execute(sql: """
                    INSERT INTO citizen_link (a_platform, a_handle, b_platform, b_handle, actor, note, at) VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT DO NOTHING
                    """, arguments: [link.a.platform.rawValue, link.a.handle, link.b.platform.rawValue, link.b.handle, link.actor, link.note,
                                     link.at.timeIntervalSince1970])
                guard db.changesCount > 0 else { return false }
                try Self.insert(audit, db)
                return true
            }
        } catch {
            throw StoreError(operation: "link two identities", underlying: error)
        }
    }

    public func unlink(_ a: CitizenIdentity, _ b: CitizenIdentity, audit: CitizenLinkAudit) throws(StoreError) -> Bool {
        let (first, second) = a < b ? (a, b) : (b, a)
        do {
            return try database.write { db in
                try db.execute(sql: "DELETE FROM citizen_link WHERE a_platform = ? AND a_handle = ? AND b_platform = ? AND b_handle = ?",
                               arguments: [first.platform.rawValue, first.handle, second.platform.rawValue, second.handle])
                guard db.changesCount > 0 else { return false }
                try Self.insert(audit, db)
                return true
            }
        } catch {
            throw StoreError(operation: "unlink two identities", underlying: error)
        }
    }

    public func linkAudit(hashes: [String], limit: Int) throws(StoreError) -> [CitizenLinkAudit] {
        guard !hashes.isEmpty else { return [] }
        return try read("read the link audit") { db in
            let marks = Array(repeating: "?", count: hashes.count).joined(separator: ", ")
            return try Row.fetchAll(db, sql: """
                SELECT * FROM citizen_link_audit WHERE a_hash IN (\(marks)) OR b_hash IN (\(marks)) ORDER BY seq DESC LIMIT ?
                """, arguments: StatementArguments(hashes + hashes) + [limit]).compactMap(StoredRows.linkAudit).reversed().map { $0 }
        }
    }

    public func citizenInquiries(_ identities: [CitizenIdentity], limit: Int) throws(StoreError) -> [CitizenInquiry] {
        guard !identities.isEmpty else { return [] }
        return try read("read a citizen's inquiries") { db in
            let authors = Array(repeating: "(platform = ? AND author = ?)", count: identities.count).joined(separator: " OR ")
            let arguments = StatementArguments(identities.flatMap { [$0.platform.rawValue, $0.handle] }) + [limit]
            return try Row.fetchAll(db, sql: """
                SELECT id, seq, platform, author, state, department, received_at,
                       json_extract(lifecycle, '$.lifecycle.resolution') AS resolution,
                       json_extract(lifecycle, '$.lifecycle.duplicateOf') AS duplicate_of,
                       json_extract(envelope, '$.text') AS text, json_extract(envelope, '$.author.display_name') AS author_name
                FROM inquiry WHERE author IS NOT NULL AND (\(authors)) ORDER BY seq DESC LIMIT ?
                """, arguments: arguments).compactMap(StoredRows.citizenInquiry)
        }
    }

    public func identities(mentioning hint: ContactHint, name: String?, receivedFrom from: String,
                           limit: Int) throws(StoreError) -> [(identity: CitizenIdentity, inquiry: InquiryID)] {
        let condition: String, value: String
        switch hint {
        case .email(let address):
            (condition, value) = ("instr(lower(json_extract(envelope, '$.text')), ?3) > 0", address)
        case .phone(let digits):
            // The text without the separators people write numbers with; or the number a WhatsApp author is.
            (condition, value) = ("""
                (instr(replace(replace(replace(replace(replace(json_extract(envelope, '$.text'), ' ', ''), '-', ''), '.', ''), '(', ''), ')', ''), ?3) > 0
                 OR (platform = 'whatsapp' AND substr(author, -9) = ?3))
                """, digits)
        case .platform(let platform):
            guard let name, !name.isEmpty else { return [] }
            (condition, value) = ("platform = '\(platform.rawValue)' AND lower(json_extract(envelope, '$.author.display_name')) = lower(?3)", name)
        case .identity:
            return []
        }
        let low = receivedIDRange(from: from, before: nil).low ?? ""
        return try read("find identities mentioning a contact") { db in
            try Row.fetchAll(db, sql: """
                SELECT id, platform, author FROM inquiry
                WHERE id >= ?1 AND received_at >= ?2 AND author IS NOT NULL AND \(condition) ORDER BY seq DESC LIMIT ?4
                """, arguments: [low, from, value, limit]).compactMap { row in
                guard let id = InquiryID(row["id"] as String), let platform = Platform(rawValue: row["platform"]) else { return nil }
                return (CitizenIdentity(platform: platform, normalizedHandle: row["author"]), id)
            }
        }
    }

    private static func insert(_ audit: CitizenLinkAudit, _ db: Database) throws {
        try db.execute(sql: "INSERT INTO citizen_link_audit (at, actor, action, a_hash, b_hash, note) VALUES (?, ?, ?, ?, ?, ?)",
                       arguments: [audit.at.timeIntervalSince1970, audit.actor, audit.action.rawValue, audit.aHash, audit.bHash, audit.note])
    }

    /// An erasure's part in the links: every link touching the identities goes, and the
    /// audit keeps its hashes and moves but loses the agents' reasons.
    static func forgetLinks(of identities: [CitizenIdentity], hashes: [String], _ db: Database) throws {
        for identity in identities {
            try db.execute(sql: "DELETE FROM citizen_link WHERE (a_platform = ?1 AND a_handle = ?2) OR (b_platform = ?1 AND b_handle = ?2)",
                           arguments: [identity.platform.rawValue, identity.handle])
        }
        for hash in hashes {
            try db.execute(sql: "UPDATE citizen_link_audit SET note = NULL WHERE a_hash = ?1 OR b_hash = ?1", arguments: [hash])
        }
    }
}
