import Foundation
import Testing
@testable import SwitchboardCore

@Suite struct LifecycleTests {
    let departments: Set<String> = ["front-office", "roads", "parks"]
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    let ana = Actor.agent("ana"), bo = Actor.agent("bo")
    let worker = Actor.worker("w-1")

    func fresh(at department: String = "front-office") -> InquiryLifecycle {
        var rng = SystemRandomNumberGenerator()
        return InquiryLifecycle(id: InquiryID.generate(milliseconds: 1, using: &rng), department: department)
    }

    @discardableResult
    func apply(_ lifecycle: inout InquiryLifecycle, _ command: LifecycleCommand, by actor: Actor, for department: String? = nil) throws(LifecycleError) -> TimelineEntry {
        try lifecycle.apply(command, by: actor, actingFor: department, at: t0, frontOffice: "front-office", departments: departments)
    }

    @Test func everyTransitionFromEveryState() throws {
        // queued → in_progress by delivery or claim, and back by release.
        var inquiry = fresh()
        try apply(&inquiry, .deliver, by: worker)
        #expect(inquiry.state == .inProgress && inquiry.owner == worker)
        try apply(&inquiry, .release(reason: "worker gone"), by: .system)
        #expect(inquiry.state == .queued && inquiry.owner == nil)
        try apply(&inquiry, .claim, by: ana, for: "front-office")
        #expect(inquiry.owner == ana)

        // handoff: to another department's queue.
        let handoff = try apply(&inquiry, .handoff(to: "roads", note: "pothole"), by: ana, for: "front-office")
        #expect(inquiry.state == .queued && inquiry.department == "roads" && inquiry.owner == nil)
        #expect(handoff.event == "inquiry.handoff" && handoff.role == "front_office" && handoff.note == "pothole")

        // accept: the department owns it; return to the front office.
        try apply(&inquiry, .deliver, by: worker)
        try apply(&inquiry, .accept, by: worker)
        #expect(inquiry.owner == .department("roads"))
        let returned = try apply(&inquiry, .returnToFrontOffice(note: "not ours"), by: bo, for: "roads")
        #expect(inquiry.department == "front-office" && inquiry.state == .queued)
        #expect(returned.role == "back_office")

        // request information pauses; reopen brings it back; reply answers; close closes.
        try apply(&inquiry, .claim, by: ana, for: "front-office")
        try apply(&inquiry, .requestInformation(note: "which street?"), by: ana, for: "front-office")
        #expect(inquiry.state == .awaitingCitizen)
        try apply(&inquiry, .reopen(note: "citizen answered"), by: ana, for: "front-office")
        #expect(inquiry.state == .queued)
        try apply(&inquiry, .claim, by: ana, for: "front-office")
        try apply(&inquiry, .reply(account: "@RivertonCity"), by: ana, for: "front-office")
        #expect(inquiry.state == .answered && inquiry.answered)
        try apply(&inquiry, .close(.answered, note: nil), by: ana, for: "front-office")
        #expect(inquiry.state == .closed && inquiry.resolution == .answered)
        try apply(&inquiry, .reopen(note: nil), by: bo, for: "front-office")
        #expect(inquiry.state == .queued && inquiry.resolution == nil)

        // park and requeue.
        try apply(&inquiry, .park(reason: "5 deliveries"), by: .system)
        #expect(inquiry.state == .parked)
        try apply(&inquiry, .requeue, by: .system)
        #expect(inquiry.state == .queued)
    }

    @Test func illegalMovesNameTheStateAndTheAllowedMoves() {
        var inquiry = fresh()
        // Only the moves this agent may make are offered: never the broker's own.
        #expect(throws: LifecycleError.invalidTransition(state: .queued, command: "reply", allowed: ["claim", "handoff"])) {
            try apply(&inquiry, .reply(account: "@x"), by: ana, for: "front-office")
        }
        #expect(throws: LifecycleError.invalidTransition(state: .queued, command: "close", allowed: [])) {
            try apply(&inquiry, .close(.spam, note: nil), by: ana)
        }
        #expect(throws: LifecycleError.invalidTransition(state: .queued, command: "reply", allowed: ["deliver", "claim", "handoff", "park"])) {
            try apply(&inquiry, .reply(account: "@x"), by: .system)
        }
        _ = try? apply(&inquiry, .park(reason: "x"), by: .system)
        #expect(throws: LifecycleError.invalidTransition(state: .parked, command: "claim", allowed: [])) {
            try apply(&inquiry, .claim, by: ana, for: "front-office")
        }
        let error = LifecycleError.invalidTransition(state: .parked, command: "claim", allowed: ["requeue"])
        #expect(error.description == "cannot claim an inquiry that is parked; allowed now: requeue")
    }

    @Test func exactlyOneOwnerAtATime() throws {
        var inquiry = fresh()
        try apply(&inquiry, .claim, by: ana, for: "front-office")
        // Another agent, even of the same department, cannot act on or take it.
        #expect(throws: LifecycleError.notOwner(actor: bo, owner: ana)) {
            try apply(&inquiry, .reply(account: "@x"), by: bo, for: "front-office")
        }
        #expect(throws: LifecycleError.invalidTransition(state: .inProgress, command: "claim", allowed: [])) {
            try apply(&inquiry, .claim, by: bo, for: "front-office")
        }
        // A worker of another department cannot reply to it either.
        #expect(throws: LifecycleError.notOwner(actor: worker, owner: ana)) {
            try apply(&inquiry, .close(.spam, note: nil), by: worker)
        }
    }

    @Test func agentsClaimOnlyForTheDepartmentHoldingTheInquiry() {
        var inquiry = fresh(at: "roads")
        #expect(throws: LifecycleError.wrongDepartment(actingFor: "parks", department: "roads")) {
            try apply(&inquiry, .claim, by: ana, for: "parks")
        }
        #expect((try? apply(&inquiry, .claim, by: ana, for: "roads")) != nil)
    }

    /// One answer per round of the conversation: a second answer to the same citizen
    /// message is refused, but a reopen or the citizen's answer starts a new round.
    @Test func aSecondReplyInOneRoundIsRefusedButAReopenStartsANewOne() throws {
        var inquiry = fresh()
        try apply(&inquiry, .claim, by: ana, for: "front-office")
        try inquiry.apply(.reply(account: "@RivertonCity"), by: ana, actingFor: "front-office", at: Date(), frontOffice: "front-office",
                          departments: departments, moveID: "r1")
        #expect(inquiry.lastMoveID == "r1")
        #expect(throws: LifecycleError.alreadyAnswered) { try apply(&inquiry, .reply(account: "@RivertonWaste"), by: ana, for: "front-office") }
        try apply(&inquiry, .reopen(note: nil), by: ana, for: "front-office")
        try apply(&inquiry, .handoff(to: "roads", note: "follow-up"), by: .system)
        try apply(&inquiry, .deliver, by: worker)
        try apply(&inquiry, .reply(account: "@RivertonRoads"), by: worker)
        #expect(throws: LifecycleError.alreadyAnswered) { try apply(&inquiry, .reply(account: "@RivertonRoads"), by: worker) }
        #expect(!inquiry.allowedCommands.contains("reply"))

        // Asked for more, the citizen answers: the owner may answer that message.
        var asked = fresh()
        try apply(&asked, .claim, by: ana, for: "front-office")
        try apply(&asked, .requestInformation(note: "which street?"), by: ana, for: "front-office")
        try apply(&asked, .citizenReplied, by: .system)
        #expect(asked.state == .inProgress && asked.owner == ana)
        try apply(&asked, .reply(account: "@RivertonCity"), by: ana, for: "front-office")
    }

    @Test func handoffTargetsAreChecked() throws {
        var inquiry = fresh()
        try apply(&inquiry, .claim, by: ana, for: "front-office")
        #expect(throws: LifecycleError.unknownDepartment("space-agency", known: ["front-office", "parks", "roads"])) {
            try apply(&inquiry, .handoff(to: "space-agency", note: ""), by: ana, for: "front-office")
        }
        // The refusal names the departments there are, so the agent can pick one.
        #expect(LifecycleError.unknownDepartment("space-agency", known: ["parks", "roads"]).description
                == "space-agency is not a department; the departments are parks, roads")
        #expect(throws: LifecycleError.sameDepartment("front-office")) { try apply(&inquiry, .handoff(to: "front-office", note: ""), by: ana, for: "front-office") }
        #expect(throws: LifecycleError.sameDepartment("front-office")) { try apply(&inquiry, .returnToFrontOffice(note: ""), by: ana, for: "front-office") }
        #expect(inquiry.state == .inProgress && inquiry.owner == ana)
    }
}

@Suite struct SLATests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    let policy = SLAPolicy(defaults: [.normal: SLATarget(firstResponse: 100, resolution: 1_000)],
                           perDepartment: ["roads": [.normal: SLATarget(firstResponse: 50, resolution: 500)]])

    func entry(_ to: LifecycleState, _ department: String, at seconds: Double, event: String = "x") -> TimelineEntry {
        var rng = SystemRandomNumberGenerator()
        return TimelineEntry(inquiry: InquiryID.generate(milliseconds: 1, using: &rng), event: event, at: t0.addingTimeInterval(seconds),
                             actor: .system, role: "system", from: nil, to: to, department: department, note: nil)
    }

    @Test func warningAt80PercentThenBreachAt100OnceEach() {
        var sla = InquirySLA(department: "front-office", priority: .normal, policy: policy, at: t0)
        #expect(sla.nextAlert == t0.addingTimeInterval(80))
        #expect(sla.check(at: t0.addingTimeInterval(79)).isEmpty)
        let warnings = sla.check(at: t0.addingTimeInterval(80))
        #expect(warnings.map(\.level) == [.warning, .warning])
        #expect(Set(warnings.map(\.scope)) == [.department, .inquiry])
        #expect(warnings.allSatisfy { $0.goal == .firstResponse && $0.event == "sla.warning" })
        #expect(sla.check(at: t0.addingTimeInterval(90)).isEmpty)
        #expect(sla.nextAlert == t0.addingTimeInterval(100))
        let breaches = sla.check(at: t0.addingTimeInterval(100))
        #expect(breaches.map(\.event) == ["sla.breach", "sla.breach"])
        #expect(sla.check(at: t0.addingTimeInterval(150)).isEmpty)
        // The resolution clocks keep running towards their own 800 s warning.
        #expect(sla.nextAlert == t0.addingTimeInterval(800))
    }

    @Test func clocksPauseWhileAwaitingTheCitizen() {
        var sla = InquirySLA(department: "front-office", priority: .normal, policy: policy, at: t0)
        sla.follow(entry(.awaitingCitizen, "front-office", at: 10), priority: .normal, policy: policy)
        // Requesting information is a first response; resolution pauses at 10 s.
        #expect(sla.wholeFirstResponse.met)
        #expect(sla.nextAlert == nil)
        #expect(sla.check(at: t0.addingTimeInterval(5_000)).isEmpty)
        sla.follow(entry(.queued, "front-office", at: 5_000, event: "inquiry.reopened"), priority: .normal, policy: policy)
        #expect(sla.wholeResolution.elapsed(at: t0.addingTimeInterval(5_100)) == 110)
        #expect(sla.nextAlert == t0.addingTimeInterval(5_000 + 800 - 10))
    }

    @Test func aHandoffStartsANewDepartmentLegWithItsTargets() {
        var sla = InquirySLA(department: "front-office", priority: .normal, policy: policy, at: t0)
        sla.follow(entry(.queued, "roads", at: 60), priority: .normal, policy: policy)
        #expect(sla.department == "roads")
        #expect(sla.legFirstResponse.target == 50)
        // The roads leg warns at 60 + 40; the inquiry as a whole at 80.
        let alerts = sla.check(at: t0.addingTimeInterval(85))
        #expect(alerts.map(\.scope) == [.inquiry])
        let leg = sla.check(at: t0.addingTimeInterval(100))
        #expect(leg.contains { $0.scope == .department && $0.level == .warning && $0.department == "roads" })
    }

    @Test func answeringStopsFirstResponseAndClosingStopsEverything() {
        var sla = InquirySLA(department: "front-office", priority: .normal, policy: policy, at: t0)
        sla.follow(entry(.answered, "front-office", at: 30), priority: .normal, policy: policy)
        #expect(sla.check(at: t0.addingTimeInterval(200)).isEmpty)
        sla.follow(entry(.closed, "front-office", at: 300), priority: .normal, policy: policy)
        #expect(sla.nextAlert == nil)
        #expect(sla.check(at: t0.addingTimeInterval(10_000)).isEmpty)
        #expect(sla.wholeResolution.elapsed(at: t0.addingTimeInterval(10_000)) == 300)
    }

    @Test func priorityRaisesOneStep() {
        #expect(Priority.low.raised == .normal)
        #expect(Priority.high.raised == .urgent)
        #expect(Priority.urgent.raised == .urgent)
    }

    @Test func aMergeClosesAsDuplicatePointingToTheOtherAndAReopenForgetsIt() throws {
        var rng = SystemRandomNumberGenerator()
        let other = InquiryID.generate(milliseconds: 1, using: &rng)
        var lifecycle = InquiryLifecycle(id: InquiryID.generate(milliseconds: 2, using: &rng), department: "roads")
        let departments: Set<String> = ["front-office", "roads"]
        _ = try lifecycle.apply(.claim, by: .agent("ana"), actingFor: "roads", at: Date(), frontOffice: "front-office", departments: departments)
        #expect(throws: LifecycleError.mergeNeedsDuplicate(.answered)) {
            _ = try lifecycle.apply(.close(.answered, note: nil, duplicateOf: other), by: .agent("ana"), actingFor: "roads", at: Date(),
                                    frontOffice: "front-office", departments: departments)
        }
        #expect(throws: LifecycleError.mergeIntoItself) {
            _ = try lifecycle.apply(.close(.duplicate, note: nil, duplicateOf: lifecycle.id), by: .agent("ana"), actingFor: "roads", at: Date(),
                                    frontOffice: "front-office", departments: departments)
        }
        let entry = try lifecycle.apply(.close(.duplicate, note: "same pothole", duplicateOf: other), by: .agent("ana"), actingFor: "roads",
                                        at: Date(), frontOffice: "front-office", departments: departments)
        #expect(lifecycle.state == .closed && lifecycle.resolution == .duplicate && lifecycle.duplicateOf == other)
        #expect(entry.event == "inquiry.closed" && entry.note == "merged into \(other): same pothole")
        _ = try lifecycle.apply(.reopen(note: "not the same"), by: .agent("ana"), actingFor: "roads", at: Date(), frontOffice: "front-office",
                                departments: departments)
        #expect(lifecycle.duplicateOf == nil && lifecycle.resolution == nil)
    }
}
