import Foundation
import Testing
@testable import SwitchboardCore

@Suite struct JSONWriterTests {
    @Test func writesValidJSONThatFoundationReadsBack() throws {
        var nested = JSONWriter()
        nested.add("kind", "agent")
        var writer = JSONWriter()
        writer.add("text", "quote \" backslash \\ newline \n tab \t bell \u{07} é 🚲")
        writer.add("absent", nil as String?)
        writer.add("whole", 3.0)
        writer.add("fraction", 0.25)
        writer.add("count", 42)
        writer.add("actor", object: nested)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(writer.result.utf8)) as? [String: Any])
        #expect(parsed["text"] as? String == "quote \" backslash \\ newline \n tab \t bell \u{07} é 🚲")
        #expect(parsed["absent"] == nil)
        #expect(parsed["whole"] as? Int == 3)
        #expect(parsed["fraction"] as? Double == 0.25)
        #expect(parsed["count"] as? Int == 42)
        #expect((parsed["actor"] as? [String: Any])?["kind"] as? String == "agent")
        #expect(JSONWriter().result == "{}")
    }
}
