import Yams

/// Who holds a key: the name the broker logs and shows, and the role it acts in.
public struct KeyHolder: Sendable, Equatable {
    public var name: String
    public var role: Role

    public init(name: String, role: Role) {
        self.name = name
        self.role = role
    }
}

/// The authorised-keys file: which CURVE public keys may connect, and as whom.
///
/// ```yaml
/// keys:
///   - name: ana
///     role: agent
///     department: front-office
///     public_key: "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
/// ```
public struct AuthorizedKeys: Sendable, Equatable {
    public private(set) var byKey: [String: KeyHolder] = [:]
    public private(set) var byName: [String: KeyHolder] = [:]

    public init(_ holders: [(publicKey: String, holder: KeyHolder)] = []) {
        for (key, holder) in holders {
            byKey[key] = holder
            byName[holder.name] = holder
        }
    }

    public var count: Int { byKey.count }

    public static func == (a: AuthorizedKeys, b: AuthorizedKeys) -> Bool { a.byKey == b.byKey }

    /// Parses the YAML file; errors name the line and field.
    public static func parse(yaml text: String) throws(AccessError) -> AuthorizedKeys {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw .invalid("not valid YAML: \(error)")
        }
        guard let root = node?.mapping, let list = root["keys"]?.sequence else {
            throw .invalid("expected a top-level keys: list")
        }
        var entries: [(publicKey: String, holder: KeyHolder)] = []
        var seenNames: Set<String> = []
        var seenKeys: Set<String> = []
        for (index, item) in list.enumerated() {
            let line = item.mark.map(\.line)   // Yams counts lines from 1
            guard let fields = item.mapping else { throw .invalid("keys[\(index)] must be a mapping", line: line) }
            func string(_ key: String) -> String? { fields[key]?.string }
            guard let name = string("name"), !name.isEmpty else { throw .invalid("keys[\(index)].name is required", line: line) }
            guard let publicKey = string("public_key"), Certificate.isKey(publicKey) else {
                throw .invalid("keys[\(index)].public_key must be a 40-character Z85 CURVE public key", line: line)
            }
            guard let roleName = string("role") else { throw .invalid("keys[\(index)].role is required", line: line) }
            let role: Role
            do {
                role = try Role(name: roleName, department: string("department"))
            } catch {
                throw .invalid("keys[\(index)]: \(error.message)", line: line)
            }
            guard seenNames.insert(name).inserted else { throw .invalid("keys[\(index)].name \(name) is listed twice", line: line) }
            guard seenKeys.insert(publicKey).inserted else { throw .invalid("keys[\(index)].public_key is listed twice", line: line) }
            entries.append((publicKey, KeyHolder(name: name, role: role)))
        }
        return AuthorizedKeys(entries)
    }
}
