import Foundation
import Testing
import SwitchboardStore
@testable import SwitchboardBroker

/// The active/standby decisions, with plain values and a clock the test moves.
@Suite struct RoleMachineTests {
    let timing = RoleMachine.Timing(leaseTime: .seconds(6))
    let t0 = ContinuousClock.now
    let lease = BrokerLease(holder: "broker-a", epoch: 3)

    /// A machine that has just taken the lease at `t0`.
    func active() -> RoleMachine {
        var machine = RoleMachine(timing: timing, now: t0)
        #expect(machine.handle(.tick(t0)) == [.takeOver])
        _ = machine.handle(.took(lease, early: false, sentAt: t0))
        return machine
    }

    @Test func aStandbyProbesAtItsPaceAndServesOnceItHoldsTheLease() {
        var machine = RoleMachine(timing: timing, now: t0)
        #expect(machine.handle(.tick(t0)) == [.takeOver])
        #expect(machine.handle(.tick(t0 + .milliseconds(100))).isEmpty, "not before the next probe")
        #expect(machine.handle(.held(by: BrokerLease(holder: "broker-b", epoch: 2), sentAt: t0)).isEmpty)
        #expect(machine.activeHolder?.holder == "broker-b")
        #expect(machine.handle(.tick(t0 + timing.probeEvery)) == [.takeOver])
        let sent = t0 + timing.probeEvery
        #expect(machine.handle(.took(lease, early: true, sentAt: sent))
                == [.serve(lease, until: sent + timing.leaseTime - timing.margin, early: true)])
        #expect(machine.role == .active)
    }

    /// The deadline counts from when each renewal was sent, and a renewal extends it.
    @Test func theActiveBrokerRenewsAndExtendsItsDeadline() {
        var machine = active()
        #expect(machine.handle(.tick(t0 + .milliseconds(100))).isEmpty)
        let due = t0 + timing.renewEvery
        #expect(machine.handle(.tick(due)) == [.renew(lease)])
        #expect(machine.handle(.renewed(sentAt: due)) == [.extend(lease, until: due + timing.leaseTime - timing.margin)])
        #expect(machine.until == due + timing.leaseTime - timing.margin)
    }

    /// A renewal the database refuses ends serving at once.
    @Test func aRefusedRenewalStepsDownAtOnce() {
        var machine = active()
        _ = machine.handle(.tick(t0 + timing.renewEvery))
        guard case .standBy? = machine.handle(.refused).first else {
            Issue.record("no step down")
            return
        }
        #expect(machine.role == .standby)
        #expect(machine.until == nil)
    }

    /// Renewals that cannot reach the database are retried quickly; the broker stops at
    /// its own deadline without waiting for the database to say anything.
    /// A broker that took the lease and could not start serving stands by again (it gave
    /// the lease back), and probes again at its pace to take it once more.
    @Test func aBrokerThatCouldNotStartServingStandsByAndTriesAgain() {
        var machine = active()
        guard case .standBy(let reason)? = machine.handle(.couldNotServe("replay failed")).first else {
            Issue.record("did not stand by")
            return
        }
        #expect(reason.contains("replay failed") && reason.contains("given back"))
        #expect(machine.role == .standby && machine.lease == nil && machine.until == nil)
        #expect(machine.handle(.couldNotServe("again")).isEmpty, "a standby has nothing to give up")
        #expect(machine.handle(.tick(t0 + timing.probeEvery + timing.renewEvery)) == [.takeOver])
    }

    @Test func aDatabaseThatCannotBeReachedEndsServingAtTheDeadline() {
        var machine = active()
        var now = t0 + timing.renewEvery
        var deadline = t0 + timing.leaseTime - timing.margin
        var renewals = 0
        while now < deadline {
            for action in machine.handle(.tick(now)) {
                if case .renew = action { renewals += 1; _ = machine.handle(.unreachable("timed out", at: now)) }
            }
            now += .milliseconds(50)
        }
        #expect(renewals >= 10, "retried every \(timing.retryEvery)")
        #expect(machine.role == .active)
        deadline = now
        let actions = machine.handle(.tick(deadline))
        guard case .standBy(let reason)? = actions.first else {
            Issue.record("still serving after the deadline: \(actions)")
            return
        }
        #expect(reason.contains("deadline"))
    }

    /// A paused broker (SIGSTOP) that wakes past its deadline stops before anything else,
    /// even if a renewal answer from before the pause arrives late.
    @Test func aBrokerThatWakesPastItsDeadlineStopsFirst() {
        var machine = active()
        let woke = t0 + .seconds(60)
        guard case .standBy? = machine.handle(.tick(woke)).first else {
            Issue.record("served after waking past the deadline")
            return
        }
        #expect(machine.handle(.renewed(sentAt: t0)).isEmpty, "a late answer does not bring it back")
        #expect(machine.role == .standby)
    }

    @Test func stoppingReleasesTheLeaseOnlyWhenActive() {
        var standby = RoleMachine(timing: timing, now: t0)
        #expect(standby.handle(.stopRequested).isEmpty)
        #expect(standby.role == .stopped)
        #expect(standby.handle(.tick(t0 + .seconds(1))).isEmpty, "a stopped broker asks nothing")
        var machine = active()
        #expect(machine.handle(.stopRequested) == [.release(lease)])
    }

    /// The keeper is woken for the next renewal or the deadline, whichever comes first.
    @Test func theKeeperWakesForTheNextDecision() {
        let machine = active()
        #expect(machine.nextWake == t0 + timing.renewEvery)
        #expect(timing.statementTimeout < timing.leaseTime - timing.margin)
        #expect(timing.staleAfter - timing.renewEvery >= .milliseconds(250), "a renewal a little late is not a dead broker")
    }
}
