import DequeModule
import Dispatch
import Foundation
import Logging
import Majordomo
import Synchronization
import SwitchboardCore
import SwitchboardProtocol
import SwitchboardStore
import ZeroMQ

/// The snapshot the operations endpoint reads.
extension EngineLoop {
    /// Publishes a snapshot for the operations endpoint (a few hundred bytes per
    /// department, every tick): readers never touch the engine.
    mutating func publishStats() {
        guard let board = options.stats else { return }
        var ingestCounts = inquiries.ingestCounts
        ingestCounts.answersHeld = flow.heldTotal
        var store = storeStats
        store.pendingBatches = inquiries.pendingBatches
        let wall = Date()
        let figures = inquiries.figures
        let sla = options.configuration.sla
        let departments = options.configuration.departments.map { department -> BrokerStats.Department in
            let load = mdp.load(for: department.id)
            let counted = figures.departments[department.id] ?? InquiryFigures.Department()
            let oldest = mdp.longestWaiting(department: department.id).map { max(0, wall.timeIntervalSince($0.id.createdAt)) } ?? 0
            let target = sla.target(department: department.id, priority: .normal)
            // Each ready inquiry against its own priority's target: the head of each
            // priority's line has waited longest among its peers.
            // Waiting counts in the department's calendar: not over a weekend it is closed.
            let overdue = mdp.oldestPerPriority(department: department.id).map { entry in
                sla.calendar(department: department.id, priority: entry.priority).openSeconds(from: entry.id.createdAt, to: wall)
                    - sla.target(department: department.id, priority: entry.priority).firstResponse
            }.max() ?? 0
            var figure = BrokerStats.Department(
                id: department.id, name: department.name, frontOffice: department.id == options.configuration.frontOffice,
                ready: mdp.readyInquiries(for: department.id), answersHeld: flow.held(for: department.id),
                inFlight: load.inFlight, workers: mdp.workerCount(for: department.id), credit: load.credit,
                heldByAgents: counted.standing[.withAgent] ?? 0, accepted: counted.standing[.accepted] ?? 0,
                awaitingCitizen: counted.standing[.awaitingCitizen] ?? 0, parked: counted.standing[.parked] ?? 0,
                oldestReadyAgeSeconds: oldest, firstResponseTargetSeconds: target.firstResponse, resolutionTargetSeconds: target.resolution,
                delivered: counted.delivered, redelivered: counted.redelivered, parkedTotal: counted.parked,
                handoffsIn: counted.handoffsIn, handoffsOut: counted.handoffsOut,
                slaWarnings: counted.warnings, slaBreaches: counted.breaches, slaBreachesToday: figures.breachesToday(department.id, at: wall),
                firstResponse: counted.firstResponse, resolution: counted.resolution, leg: counted.leg
            )
            figure.expectsWorkers = department.expectsWorkers
            figure.readyOverdueSeconds = max(0, overdue)
            if overdue > 0 {
                let counts = mdp.overdueInquiries(department: department.id) { priority in
                    sla.calendar(department: department.id, priority: priority)
                        .date(before: sla.target(department: department.id, priority: priority).firstResponse, from: wall) ?? .distantPast
                }
                figure.overdueByPriority = Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) })
            }
            figure.slaBreachedInquiriesToday = figures.inquiriesBreachedToday(department.id, at: wall)
            return figure
        }
        let unsent = inquiries.unsentMessages()
        let refused = authorizations.accounts
        let outbound = Platform.allCases.map { platform in
            let waiting = unsent[platform]
            var figure = BrokerStats.Outbound(platform: platform.rawValue, unsent: waiting?.count ?? 0,
                                              oldestUnsentSeconds: waiting.map { max(0, wall.timeIntervalSince($0.oldest)) } ?? 0,
                                              gateways: mdp.workerCount(for: ServiceName.outbound(platform.rawValue)))
            figure.needingReauthorization = refused.filter { $0.platform == platform }
                .map { BrokerStats.Reauthorization(account: $0.handle, reason: $0.reason, since: $0.since) }
            return figure
        }
        var snapshot = BrokerStats(
            at: Date(), startedAt: startedAt, ready: true, engineTurnedAt: Date(), store: store, ingest: ingestCounts,
            departments: departments,
            connections: BrokerStats.Connections(open: connections.count, cut: connections.cuts, denials: denials,
                                                 warningsHeldBack: warnings.totalHeldBack),
            eventsDropped: eventsDropped, engineTurnSeconds: engineTurns, build: BrokerStats.Build(version: SwitchboardVersion.current),
            dataProtection: dataProtection
        )
        snapshot.outbound = outbound
        snapshot.reloads = reloads
        var projected = projection
        projected.journalPosition = projector.progress.committed
        snapshot.projection = projected
        board.publish(snapshot, configuration: options.configuration)
    }
}
