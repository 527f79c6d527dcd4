import Foundation
import Testing
@testable import SwitchboardCore

@Suite struct JSONWriterTests {
    @Test func writesValidJSONThatFoundationReadsBack() throws {
        var writer = JSONWriter()
        writer.add("text", "quote \" backslash \\ newline \n tab \t bell \u{07} é 🚲")
        writer.add("absent", nil as String?)
        writer.add("whole", 3.0)
        writer.add("fraction", 0.25)
        writer.add("count", 42)
        writer.object("actor") { $0.add("kind", "agent") }
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(writer.result.utf8)) as? [String: Any])
        #expect(parsed["text"] as? String == "quote \" backslash \\ newline \n tab \t bell \u{07} é 🚲")
        #expect(parsed["absent"] == nil)
        #expect(parsed["whole"] as? Int == 3)
        #expect(parsed["fraction"] as? Double == 0.25)
        #expect(parsed["count"] as? Int == 42)
        #expect((parsed["actor"] as? [String: Any])?["kind"] as? String == "agent")
        #expect(JSONWriter().result == "{}")
    }

    /// Numbers are written digit by digit; every edge reads back as the same value.
    @Test func integersAndTimesReadBackExactly() throws {
        let values: [Int] = [0, 7, -7, 10, 1_795_496_750, -1_795_496_750, Int(Int32.max), 999_999_999_999_999]
        for value in values {
            var writer = JSONWriter()
            writer.add("n", value)
            writer.add("d", Double(value))
            #expect(writer.result == #"{"n":\#(value),"d":\#(value)}"#)
        }
        var writer = JSONWriter()
        writer.add("at", 1_795_496_750.8370662)
        writer.add("huge", 1e20)
        writer.add("nan", Double.nan)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(writer.result.utf8)) as? [String: Any])
        #expect(parsed["at"] as? Double == 1_795_496_750.8370662)
        #expect(parsed["huge"] as? Double == 1e20)
        #expect(parsed["nan"] is NSNull)
    }

    /// Objects written in place nest, and keys after them still get their commas.
    @Test func objectsWrittenInPlaceNest() {
        var writer = JSONWriter()
        writer.add("a", 1)
        writer.object("b") { b in
            b.object("c") { _ in }
            b.add("d", "e")
        }
        writer.object("empty") { _ in }
        writer.add("f", 2)
        #expect(writer.result == #"{"a":1,"b":{"c":{},"d":"e"},"empty":{},"f":2}"#)
    }
}
