import Foundation

/// Defaults from `~/.config/switchboard/config.yaml` (or `$XDG_CONFIG_HOME/switchboard/
/// config.yaml`): a flat mapping of `endpoint`, `events`, `agent`, `department`, `key`
/// and `server_key`. Flags win over the environment, which wins over this file.
enum CLIConfig {
    static let values: [String: String] = {
        let home = ProcessInfo.processInfo.environment["XDG_CONFIG_HOME"] ?? (NSHomeDirectory() as NSString).appendingPathComponent(".config")
        let path = (home as NSString).appendingPathComponent("switchboard/config.yaml")
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        var values: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.hasPrefix("#"), let colon = trimmed.firstIndex(of: ":") else { continue }
            let key = trimmed[..<colon].trimmingCharacters(in: .whitespaces)
            var value = trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.first == "\"" || value.first == "'", value.last == value.first { value = String(value.dropFirst().dropLast()) }
            if !value.isEmpty { values[key] = value }
        }
        return values
    }()

    /// The environment variable, else the file's value for `key`.
    static func value(environment name: String, file key: String) -> String? {
        ProcessInfo.processInfo.environment[name] ?? values[key]
    }
}
