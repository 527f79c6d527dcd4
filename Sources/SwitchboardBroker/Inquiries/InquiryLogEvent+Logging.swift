import Logging

extension InquiryLogEvent {
    /// A fixed message with ids, departments and codes as metadata.
    func log(to logger: Logger) {
        switch self {
        case .rejected(let code):
            logger.debug("ingest rejected", metadata: ["code": "\(code)"])
        case .missing(let id):
            logger.error("queued inquiry missing from the store", metadata: ["inquiry.id": "\(id)"])
        case .staleEntry(let id, let department):
            logger.debug("stale queue entry dropped", metadata: ["inquiry.id": "\(id)", "department": "\(department)"])
        case .staleReply(let id, let department):
            logger.notice("reply from a worker that no longer owns the inquiry", metadata: ["inquiry.id": "\(id)", "department": "\(department)"])
        case .outcomeRefused(let id, let department, let code):
            logger.warning("worker outcome refused; the department keeps the inquiry", metadata: [
                "inquiry.id": "\(id)", "department": "\(department)", "code": "\(code)",
            ])
        case .redelivery(let id, let department, let deliveries):
            logger.notice("inquiry requeued for redelivery", metadata: [
                "inquiry.id": "\(id)", "department": "\(department)", "deliveries": "\(deliveries)",
            ])
        case .parked(let id, let department, let deliveries):
            logger.warning("inquiry parked", metadata: ["inquiry.id": "\(id)", "department": "\(department)", "deliveries": "\(deliveries)"])
        case .sla(let id, let alert):
            logger.notice("SLA \(alert.level.rawValue)", metadata: [
                "inquiry.id": "\(id)", "department": "\(alert.department)", "sla.goal": "\(alert.goal.rawValue)", "sla.scope": "\(alert.scope.rawValue)",
            ])
        case .seedRefused(let platform, let code):
            logger.error("a configured account was not registered", metadata: ["platform": "\(platform)", "code": "\(code)"])
        case .commitFailed(let batch, let rows):
            logger.critical("commit failed; its requests were answered unavailable", metadata: ["batch": "\(batch)", "rows": "\(rows)"])
        }
    }
}
