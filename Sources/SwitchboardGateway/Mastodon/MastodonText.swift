import Foundation

/// A Mastodon status's `content` (sanitised HTML: `<p>`, `<br>`, links and mentions as
/// `<a>` with `<span>`s inside, entities) as the plain text an agent reads: paragraphs
/// apart by a blank line, line breaks kept, every tag removed (a link's hidden `https://`
/// and tail spans are part of its text, so the whole address remains), entities decoded.
public enum MastodonText {
    public static func plain(_ html: String) -> String {
        var text = ""
        var index = html.startIndex
        while index < html.endIndex {
            let character = html[index]
            if character == "<", let close = html[index...].firstIndex(of: ">") {
                let tag = html[html.index(after: index)..<close].lowercased()
                let name = tag.split(whereSeparator: { $0 == " " || $0 == "/" }).first.map(String.init) ?? ""
                if name == "br" { text += "\n" }
                if tag.hasPrefix("/p") { text += "\n\n" }
                index = html.index(after: close)
            } else if character == "&", let end = html[index...].prefix(12).firstIndex(of: ";"),
                      let decoded = entity(String(html[html.index(after: index)..<end])) {
                text += decoded
                index = html.index(after: end)
            } else {
                text.append(character)
                index = html.index(after: index)
            }
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func entity(_ name: String) -> String? {
        switch name {
        case "amp": return "&"
        case "lt": return "<"
        case "gt": return ">"
        case "quot": return "\""
        case "apos", "#39": return "'"
        case "nbsp": return "\u{00A0}"
        default:
            let scalar: UInt32?
            if name.hasPrefix("#x") || name.hasPrefix("#X") {
                scalar = UInt32(name.dropFirst(2), radix: 16)
            } else if name.hasPrefix("#") {
                scalar = UInt32(name.dropFirst())
            } else {
                scalar = nil
            }
            return scalar.flatMap(Unicode.Scalar.init).map { String(Character($0)) }
        }
    }
}
