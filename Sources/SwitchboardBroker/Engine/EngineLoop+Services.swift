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

/// The dispatcher: each request to one of the broker's own services (`sb.*`) is checked
/// against the access policy and handed to the machine or lane that serves it.
extension EngineLoop {
    /// Sends a job to the load lane; false when too many wait.
    mutating func submitLoad(_ work: LoadLane.Work) -> Bool {
        let progress = projector.progress
        guard loads.submit(LoadLane.Job(work: work, after: progress.committed)) else { return false }
        // What every read of this job sees at least: the projection only grows.
        loadsOnTheirWay.append(progress.projected)
        inquiries.readsOnTheirWay(since: loadsOnTheirWay.first)
        return true
    }

    /// With CURVE, whether the sender's role allows `request`; a refusal is answered
    /// `forbidden`, naming the role needed.
    mutating func permitted(_ request: AccessRequest, client: Frame, service: String, now: ContinuousClock.Instant) -> Bool {
        guard options.security != nil else { return true }
        let role = sender?.role
        guard let needed = role.map({ AccessRules.check($0, request) }) ?? "an authorised key" else { return true }
        deny(client, role?.description ?? "-", needed: needed, service: service, now: now)
        reply(client, service, .agentError(.forbidden(service: service, needs: needed)), now: now)
        return false
    }

    /// A request to one of the broker's own services.
    mutating func serve(client: Frame, service: String, body: [Frame], now: ContinuousClock.Instant) {
        let wall = clock.now()
        switch service {
        case InquiryService.ingest:
            guard permitted(.ingest, client: client, service: service, now: now) else { return }
            carryOut(inquiries.ingest(client: client, body: body, now: wall), now: now)
        case InquiryService.outboundStatus:
            guard permitted(.ingest, client: client, service: service, now: now) else { return }
            do {
                let request = try AgentRequest(body)
                let platformName = try request.string("platform")
                guard let platform = Platform(rawValue: platformName) else { throw AgentError.invalid(field: "platform", "not a known platform") }
                guard let status = OutboundStatusRequest.Status(rawValue: try request.string("status")) else {
                    throw AgentError.invalid(field: "status", "must be delivered, read or failed")
                }
                let query: OutboundMessageQuery
                if let recipient = request.optional("recipient") {
                    // A watermark: every message to this citizen posted up to then.
                    guard status != .failed else { throw AgentError.invalid(field: "status", "a watermark says delivered or read, never failed") }
                    guard let text = request.optional("watermark"), let watermark = CalendarDate.parse(text), text.contains("T") else {
                        throw AgentError.invalid(field: "watermark", "must be an ISO 8601 time, such as 2026-12-03T09:30:00.250Z")
                    }
                    // The platform stamps a message when it accepts it; the broker records it
                    // as sent when the gateway says so, a little later.
                    let recorded = watermark.addingTimeInterval(Self.watermarkGrace)
                    query = .watermark(platform: platform, recipient: recipient, sentBy: Timestamp.format(recorded), notYet: status.rawValue)
                } else {
                    query = .posted(platform: platform, externalID: try request.string("external_id"))
                }
                // The messages and their inquiries are read by the load lane, once the
                // projection holds a post confirmed a moment ago.
                let report = LoadLane.StatusReport(client: client, status: status, code: request.optional("code"), reason: request.optional("reason"),
                                                   gateway: sender?.name ?? "gateway")
                if !submitLoad(.messages(query, status: report)) { reply(client, service, .unavailable, now: now) }
            } catch let error as AgentError {
                reply(client, service, .agentError(error), now: now)
            } catch {
                reply(client, service, .unavailable, now: now)
            }
        case InquiryService.gatewayAccounts:
            guard permitted(.ingest, client: client, service: service, now: now) else { return }
            guard let report = body.first.flatMap({ try? GatewayAccountsReport.decoder.decode(GatewayAccountsReport.self, from: Data($0.bytes)) }) else {
                reply(client, service, .agentError(.invalid(field: "needing_reauthorization", "must be a list of {platform, account, reason, since}")), now: now)
                return
            }
            var accounts: [AccountAuthorizations.Account] = []
            for entry in report.needingReauthorization {
                guard let platform = Platform(rawValue: entry.platform) else {
                    reply(client, service, .agentError(.invalid(field: "platform", "\(entry.platform) is not a known platform")), now: now)
                    return
                }
                accounts.append(.init(platform: platform, handle: entry.account, reason: entry.reason, since: entry.since))
            }
            // A gateway is known by its key's name under CURVE, else by its connection.
            let gateway = sender?.name ?? client.description
            announce(authorizations.report(gateway: gateway, accounts: accounts, at: wall), at: wall)
            reply(client, service, .model(GatewayAccountsAnswer()), now: now)
        case InquiryService.departments:
            guard permitted(.request, client: client, service: service, now: now) else { return }
            let list = options.configuration.departments.map { DepartmentList.Department(id: $0.id, name: $0.name) }
            reply(client, service, .model(DepartmentList(departments: list, frontOffice: options.configuration.frontOffice,
                                                         installation: installation)), now: now)
        case InquiryService.explain:
            guard permitted(.request, client: client, service: service, now: now) else { return }
            carryOut(inquiries.explain(client: client, body: body), now: now)
        case InquiryService.erase, InquiryService.export:
            guard permitted(.admin, client: client, service: service, now: now) else { return }
            let job: RecordsLane.Job
            do throws(AgentError) {
                let request = try AgentRequest(body)
                job = service == InquiryService.erase
                    ? .erase(try RecordsLane.Erasure(client: client, request: request, actor: sender?.name, at: wall,
                                                     numbering: options.configuration.caseNumbering))
                    : .export(try RecordsLane.Export(client: client, request: request, departments: options.configuration.departmentIDs))
            } catch {
                reply(client, service, .agentError(error), now: now)
                return
            }
            if !records.submit(job) { reply(client, service, .unavailable, now: now) }
        case AdminService.report.rawValue:
            guard let request = decoded(body, client: client, service: service, checking: .admin, now: now) else { return }
            // A department's agents and supervisors read its figures; operations all of them.
            guard permitted(.read(department: request.optional("department")), client: client, service: service, now: now) else { return }
            do throws(AgentError) {
                let job = try RecordsLane.Report(client: client, request: request, configuration: options.configuration)
                if !records.submit(.report(job)) { reply(client, service, .unavailable, now: now) }
            } catch {
                reply(client, service, .agentError(error), now: now)
            }
        case InquiryService.requeue:
            guard let request = decoded(body, client: client, service: service, checking: .requeue(department: ""), now: now) else { return }
            // The inquiry (by id or case number) is read by the load lane; the role is
            // checked against its department there (see ``requeue(_:)``).
            if submitLoad(.requeue(client: client, request: request, numbering: options.configuration.caseNumbering, sender: sender)) {
                movesReading += 1
            } else {
                reply(client, service, .unavailable, now: now)
            }
        default:
            if let citizenService = CitizenService(rawValue: service) {
                guard permitted(.citizen, client: client, service: service, now: now),
                      let request = decoded(body, client: client, service: service, now: now) else { return }
                // Under CURVE the actor is the key's name; else the request's agent, who must be
                // named: every link is audited with who made it.
                guard let actor = sender?.name ?? request.optional("agent") else {
                    reply(client, service, .agentError(.missing("agent")), now: now)
                    return
                }
                if !reads.submit(ReadLane.Job(client: client, service: .citizen(citizenService, actor: actor), request: request, role: sender?.role,
                                              configuration: options.configuration, after: projector.progress.committed)) {
                    reply(client, service, .unavailable, now: now)
                }
                return
            }
            if let channelService = ChannelService(rawValue: service) {
                guard permitted(channelService.isWrite ? .registryWrite : .request, client: client, service: service, now: now),
                      let request = decoded(body, client: client, service: service, now: now) else { return }
                let actor = sender?.name ?? request.optional("actor") ?? "anonymous"
                carryOut(inquiries.channels(client: client, service: channelService, request: request, actor: actor, now: wall), now: now)
                return
            }
            guard let agentService = AgentService(rawValue: service) else { return }
            var request: AgentRequest
            do {
                request = try AgentRequest(body)
                if options.security != nil { try request.actAs(sender) }
            } catch {
                reply(client, service, .agentError(error), now: now)
                return
            }
            let department = request.department
            let access: AccessRequest = switch agentService {
            case .resolve: .request
            // The inquiry's own department is checked by the read lane, once it is read.
            case .show, .timeline: .request
            default: agentService.isRead ? .read(department: department) : .move(department: department ?? "")
            }
            guard permitted(access, client: client, service: service, now: now) else { return }
            if agentService.isRead {
                if !reads.submit(ReadLane.Job(client: client, service: .agent(agentService), request: request, role: sender?.role,
                                              configuration: options.configuration, after: projector.progress.committed)) {
                    reply(client, service, .unavailable, now: now)
                }
                return
            }
            // An invalid id is the machine's to refuse, with the field named.
            let named = (try? request.optionalID()) ?? nil
            let notInMemory = named.map { id in inquiries.needsLoad(id) || (agentService == .claim && inquiries.needsBody(id)) } ?? false
            let merge = agentService == .close && request.optional("duplicate_of") != nil
            if movesReading > 0 || notInMemory || merge || request.namesCase(options.configuration.caseNumbering)
                || claimMayBeMade(agentService, request) {
                // A case number to resolve, an inquiry not in memory, the other inquiry of
                // a merge to find, or earlier moves still there: read by the load lane, and
                // the move goes on from there, in the order moves came.
                if submitLoad(.move(client: client, service: agentService, request: request, numbering: options.configuration.caseNumbering)) {
                    movesReading += 1
                } else {
                    reply(client, service, .unavailable, now: now)
                }
                return
            }
            move(client: client, service: agentService, request: request, now: now)
        }
    }

    /// The request's fields, or nil once the refusal (not JSON, repeated keys) is answered.
    /// A service whose role check needs the request (its department) is checked against
    /// `checking` before a malformed request is refused: a peer without the role learns
    /// no more than that.
    private mutating func decoded(_ body: [Frame], client: Frame, service: String, checking access: AccessRequest? = nil,
                                  now: ContinuousClock.Instant) -> AgentRequest? {
        do {
            return try AgentRequest(body)
        } catch {
            if let access, !permitted(access, client: client, service: service, now: now) { return nil }
            reply(client, service, .agentError(error), now: now)
            return nil
        }
    }

    /// A claim of "the next one" with a request id this broker's memory does not hold:
    /// it may have been made already (its answer lost, or made by the broker this one took
    /// over from), so the agent's claims are read back first (by the load lane).
    private func claimMayBeMade(_ service: AgentService, _ request: AgentRequest) -> Bool {
        guard service == .claim, request.optional("id") == nil, let agent = request.agent, let department = request.department,
              let moveID = try? AgentMove.requestID(request) else { return false }
        return inquiries.claim(madeBy: moveID, actor: agent, department: department) == nil
    }

    /// Makes an agent's move; a claim of "the next one" takes the head of the queue.
    mutating func move(client: Frame, service: AgentService, request: AgentRequest, now: ContinuousClock.Instant) {
        var next: InquiryID?
        if request.optional("id") == nil, service == .claim, let department = request.department {
            next = nextClaimable(department)
        }
        inquiries.gatewaysOnline = gatewaysOnline
        carryOut(inquiries.agent(client: client, service: service, request: request, next: next, now: clock.now()), now: now)
    }

    /// What the load lane read: the inquiries join memory (unless memory holds a newer
    /// copy), and the moves and timers go on, in the order they came. A copy older than a
    /// change memory let go of since (or than an erasure) is refused and read again here,
    /// on the engine thread: it is rare, and asking the lane again would let later moves
    /// overtake this one.
    mutating func takeLoads() {
        while (try? loadsPipe.receive(.nonBlocking)) != nil {}
        let now = ContinuousClock.now
        for result in loads.takeResults() {
            _ = loadsOnTheirWay.popFirst()
            switch result.job.work {
            case .move, .requeue: movesReading -= 1
            default: break
            }
            // Every request the read was for is answered below; the reason is logged once.
            if let failure = result.failure { logger.error("the load lane could not read the store", metadata: ["error": "\(failure)"]) }
            let stale = result.stored.filter { !inquiries.load($0, readThrough: result.readThrough) }.map(\.id)
            if case .timers = result.job.work {} else {
                for id in stale { ensureLoaded(id, body: true) }
            }
            switch result.job.work {
            case .move(let client, let service, let request, _):
                if let refusal = result.refusal {
                    reply(client, service.rawValue, .agentError(refusal), now: now)
                } else if result.failure != nil {
                    reply(client, service.rawValue, .unavailable, now: now)
                } else {
                    move(client: client, service: service, request: request, now: now)
                }
            case .original(let key, let known, let client, let body):
                if result.failure != nil {
                    reply(client, InquiryService.ingest, .unavailable, now: now)
                } else {
                    if known == nil, let original = result.original { inquiries.rememberOriginal(key, original) }
                    carryOut(inquiries.ingest(client: client, body: body, now: clock.now(), lookedUp: true), now: now)
                }
            case .messages(let query, let report):
                if result.failure != nil {
                    reply(report.client, InquiryService.outboundStatus, .unavailable, now: now)
                } else {
                    carryOut(inquiries.outboundStatus(client: report.client, status: report.status, code: report.code, reason: report.reason,
                                                      stored: result.messages, query: query, by: report.gateway, now: clock.now()), now: now)
                }
            case .requeue(let client, let request, _, let holder):
                requeue(client: client, request: request, by: holder, result: result, now: now)
            case .outboundAnswer(let worker, let entry, let reply, _, let answeredAt):
                // Recorded whether or not the read succeeded (the message's state is the
                // store's; only the timeline line needs the inquiry), at the time the
                // gateway answered.
                carryOut(inquiries.outboundSent(entry, worker: worker, reply: reply, now: answeredAt), now: now)
            case .delivery(let worker, let department, let entry):
                // The worker left meanwhile: the entry is back in its queue.
                let read = DeliveryRead(id: entry.id, worker: worker)
                guard deliveriesReading.contains(read) else { continue }
                if result.failure != nil {
                    // As when the store cannot be read at once: what the worker holds goes
                    // back to the front of the queue (the entry stays marked as never
                    // delivered until then), and it registers again.
                    perform(mdp.peerUnreachable(worker, now: now), now: now)
                    deliveriesReading.remove(read)
                } else {
                    deliveriesReading.remove(read)
                    // A stale entry (claimed or handed off meanwhile) gives the worker its
                    // credit back (see InquiryMachine.deliver).
                    carryOut(inquiries.deliver(entry, department: department, to: worker, now: clock.now()), now: now)
                }
            case .timers:
                timersReading = false
                guard result.failure == nil else { continue }
                // A stale copy is left for the next tick, which reads it again.
                let ready = { (id: InquiryID) in !stale.contains(id) && !inquiries.needsLoad(id) }
                carryOut(inquiries.timers(now: clock.now(), expiredLeases: result.expiredLeases.filter(ready),
                                          dueAlerts: result.dueAlerts.filter(ready)), now: now)
            }
        }
        inquiries.readsOnTheirWay(since: loadsOnTheirWay.first)
    }

    /// `sb.admin.requeue`, once the load lane read the inquiry it names: the operator's
    /// role is checked against the inquiry's department.
    private mutating func requeue(client: Frame, request: AgentRequest, by holder: KeyHolder?, result: LoadLane.Result, now: ContinuousClock.Instant) {
        let service = InquiryService.requeue
        // The message being handled is the operator's request.
        let handling = sender
        sender = holder
        defer { sender = handling }
        if let refusal = result.refusal {
            guard permitted(.requeue(department: ""), client: client, service: service, now: now) else { return }
            return reply(client, service, .agentError(refusal), now: now)
        }
        if result.failure != nil { return reply(client, service, .unavailable, now: now) }
        let department = (try? request.id()).flatMap { inquiries.record($0)?.lifecycle.department } ?? ""
        guard permitted(.requeue(department: department), client: client, service: service, now: now) else { return }
        // The operator who asked, by key name with CURVE, else as the request names them.
        let actor = holder.map { Actor.agent($0.name) } ?? request.optional("actor").map(Actor.agent) ?? .system
        carryOut(inquiries.requeue(client: client, request: request, by: actor, now: clock.now()), now: now)
    }

    /// The head of a department's queue, skipping entries that went stale.
    mutating func nextClaimable(_ department: String) -> InquiryID? {
        while let entry = mdp.nextInquiry(department: department) {
            guard ensureLoaded(entry.id, body: true) else { return nil }
            if let record = inquiries.record(entry.id), record.lifecycle.state == .queued, record.lifecycle.department == department {
                return entry.id
            }
            mdp.removeQueuedInquiry(entry.id, priority: entry.priority, department: department)
        }
        return nil
    }

    mutating func reply(_ client: Frame, _ service: String, _ answer: InquiryReply, now: ContinuousClock.Instant) {
        perform(send(client, ClientMessage(service: service, body: [answer.frame]).frames, now: now), now: now)
    }
}
