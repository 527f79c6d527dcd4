import Foundation
import Testing
@testable import SwitchboardCore

func inquiry(
    _ text: String, platform: Platform = .x, account: String = "@RivertonCity",
    language: String? = nil, geo: Geo? = nil
) -> Inquiry {
    Inquiry(source: .init(platform: platform, account: account, externalID: "1"), author: .init(handle: "@a"),
            text: text, language: language, geo: geo, capturedAt: "2026-11-22T09:30:00Z")
}

func rule(_ name: String, to department: String, _ build: (inout RuleConditions) throws -> Void) rethrows -> RoutingRule {
    var conditions = RuleConditions()
    try build(&conditions)
    return RoutingRule(name: name, department: department, conditions: conditions)
}

@Suite struct RoutingRuleTests {
    @Test func keywordsMatchWholeWordsIgnoringCaseAndAccents() {
        let router = Router(rules: [rule("waste", to: "waste") { $0.keywords = ["bin", "bulky waste", "déchets"] }], frontOffice: "fo")
        #expect(router.route(inquiry("My BIN was missed")).department == "waste")
        #expect(router.route(inquiry("when is Bulky  Waste day?")).department == "waste")
        #expect(router.route(inquiry("Les DECHETS ne sont pas ramassés")).department == "waste")
        // "bin" inside another word is not a match.
        #expect(router.route(inquiry("the cabinet meeting")).department == "fo")
        #expect(router.route(inquiry("bulky items and waste")).department == "fo")
    }

    @Test func hashtagsMatchWithOrWithoutTheHash() {
        let router = Router(rules: [rule("tag", to: "roads") { $0.hashtags = ["#Pothole", "roadworks"] }], frontOffice: "fo")
        #expect(router.route(inquiry("look at this #pothole!")).department == "roads")
        #expect(router.route(inquiry("#RoadWorks again")).department == "roads")
        #expect(router.route(inquiry("a pothole, no tag")).department == "fo")
    }

    @Test func regexMatchesCaseInsensitively() throws {
        let router = Router(rules: [try rule("lights", to: "roads") { $0.pattern = try RulePattern("street ?lights? (is |are )?out") }], frontOffice: "fo")
        let decision = router.explain(inquiry("Streetlights are out on Main St"))
        #expect(decision.department == "roads")
        #expect(decision.explanation.last?.contains("Streetlights are out") == true)
    }

    @Test func accountPlatformAndLanguageConditions() {
        let router = Router(rules: [
            rule("account", to: "waste") { $0.accounts = ["@RivertonWaste"] },
            rule("platform", to: "web-team") { $0.platforms = [.web, .email] },
            rule("language", to: "francophone") { $0.languages = ["fr"] },
        ], frontOffice: "fo")
        #expect(router.route(inquiry("hello", account: "@rivertonwaste")).department == "waste")
        #expect(router.route(inquiry("hello", platform: .email)).department == "web-team")
        #expect(router.route(inquiry("bonjour", language: "fr-BE")).department == "francophone")
        #expect(router.route(inquiry("hallo", language: "frisian")).department == "fo")
    }

    @Test func boundingBoxCondition() {
        let box = BoundingBox(minLat: 51.50, minLon: -0.13, maxLat: 51.52, maxLon: -0.10)
        let router = Router(rules: [rule("park", to: "parks") { $0.boundingBox = box }], frontOffice: "fo")
        #expect(router.route(inquiry("broken swing", geo: Geo(lat: 51.51, lon: -0.12))).department == "parks")
        #expect(router.route(inquiry("broken swing", geo: Geo(lat: 51.60, lon: -0.12))).department == "fo")
        #expect(router.route(inquiry("broken swing", geo: Geo(address: "1 Park Lane"))).department == "fo")
    }

    @Test func allConditionsOfARuleMustHold() {
        let router = Router(rules: [rule("x-transport", to: "transport") { $0.keywords = ["bus"]; $0.platforms = [.x] }], frontOffice: "fo")
        #expect(router.route(inquiry("the bus is late", platform: .x)).department == "transport")
        #expect(router.route(inquiry("the bus is late", platform: .facebook)).department == "fo")
        #expect(router.route(inquiry("the tram is late", platform: .x)).department == "fo")
    }

    @Test func firstMatchingRuleWinsAndSetsPriorityAndTags() {
        var urgent = rule("water-emergency", to: "water") { $0.keywords = ["flooding"] }
        urgent.priority = .urgent
        urgent.tags = ["emergency"]
        let router = Router(rules: [urgent, rule("roads", to: "roads") { $0.keywords = ["road", "flooding"] }], frontOffice: "fo")
        let decision = router.route(inquiry("flooding on the road"))
        #expect(decision.department == "water")
        #expect(decision.priority == .urgent)
        #expect(decision.tags == ["emergency"])
        #expect(decision.rule == "water-emergency")
        let second = router.explain(inquiry("the road is cracked"))
        #expect(second.rule == "roads")
        #expect(second.explanation.count == 2)
        #expect(second.explanation[0].hasPrefix("rule \"water-emergency\" skipped"))
        // Ingest routes the same way and writes no sentences.
        #expect(router.route(inquiry("the road is cracked")) == RoutingDecision(department: "roads", priority: .normal, tags: [], rule: "roads", explanation: []))
    }

    @Test func unmatchedInquiriesGoToTheFrontOfficeWithAnExplanation() {
        let decision = Router(rules: [rule("roads", to: "roads") { $0.keywords = ["road"] }], frontOffice: "front-office").explain(inquiry("thank you!"))
        #expect(decision == RoutingDecision(
            department: "front-office", priority: .normal, tags: [], rule: nil,
            explanation: ["rule \"roads\" skipped: none of the keywords \"road\" is present", "no rule matched: sent to front-office for triage"]
        ))
    }
}

@Suite struct NormalizedTextTests {
    /// The ASCII fast path splits and folds exactly as Foundation's folding does.
    @Test func asciiFastPathAgreesWithFolding() throws {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("abcXYZ019_ #!,.-'\"\tQ")
        for _ in 0..<500 {
            let text = String((0..<Int.random(in: 0...40, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
            let fast = try #require(NormalizedText.asciiWords(text))
            let slow = NormalizedText(folding: text)
            #expect(fast.words.map(String.init) == slow.words.map(String.init), "\(text)")
            #expect(fast.hashtags == slow.hashtags, "\(text)")
        }
        #expect(NormalizedText.asciiWords("café") == nil)
    }
}

@Suite struct DepartmentQueuesTests {
    @Test func servedByPriorityThenFirstInFirstOut() {
        var queues = DepartmentQueues()
        var rng = SystemRandomNumberGenerator()
        let ids = (0..<5).map { InquiryID.generate(milliseconds: UInt64($0), using: &rng) }
        queues.enqueue(QueueEntry(id: ids[0], priority: .low), department: "d")
        queues.enqueue(QueueEntry(id: ids[1], priority: .normal), department: "d")
        queues.enqueue(QueueEntry(id: ids[2], priority: .urgent), department: "d")
        queues.enqueue(QueueEntry(id: ids[3], priority: .normal), department: "d")
        queues.requeueAtFront(QueueEntry(id: ids[4], priority: .normal, deliveries: 1), department: "d")
        #expect(queues.count(department: "d") == 5)
        let order = (0..<5).compactMap { _ in queues.next(department: "d")?.id }
        #expect(order == [ids[2], ids[4], ids[1], ids[3], ids[0]])
        #expect(queues.next(department: "d") == nil)
        #expect(queues.next(department: "elsewhere") == nil)
    }

    /// Taken out of the middle of a line by its priority, an entry is skipped when it
    /// comes up, counts no more at once, and never hides the line's head; queued again
    /// later (at the same priority, or another), the new entry is served.
    @Test func entriesTakenOutOfTheMiddleAreSkippedAndCountNoMore() {
        var queues = DepartmentQueues()
        var rng = SystemRandomNumberGenerator()
        let ids = (0..<5).map { InquiryID.generate(milliseconds: UInt64($0), using: &rng) }
        for id in ids { queues.enqueue(QueueEntry(id: id, priority: .normal), department: "d") }
        queues.remove(ids[2], priority: .normal, department: "d")
        queues.remove(ids[3], priority: .normal, department: "d")
        #expect(queues.count(department: "d") == 3)
        queues.remove(ids[0], priority: .normal, department: "d")   // the head: taken at once
        #expect(queues.peek(department: "d")?.id == ids[1])
        // ids[3] comes back, raised to high; ids[2] comes back at its own priority.
        queues.enqueue(QueueEntry(id: ids[3], priority: .high), department: "d")
        queues.enqueue(QueueEntry(id: ids[2], priority: .normal), department: "d")
        #expect(queues.count(department: "d") == 4)
        let order = (0..<4).compactMap { _ in queues.next(department: "d")?.id }
        #expect(order == [ids[3], ids[1], ids[4], ids[2]], "each marked entry skipped once, the new ones served")
        #expect(queues.next(department: "d") == nil && queues.count(department: "d") == 0 && !queues.hasReady(department: "d"))
        // Without a priority the lines are searched, as before.
        queues.enqueue(QueueEntry(id: ids[0], priority: .low), department: "d")
        queues.enqueue(QueueEntry(id: ids[1], priority: .low), department: "d")
        queues.remove(ids[1], department: "d")
        #expect(queues.count(department: "d") == 1 && queues.next(department: "d")?.id == ids[0])
    }
}
