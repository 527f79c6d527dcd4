import Logging

extension BrokerEvent {
    /// Logs the event as a fixed message with metadata, never a message body.
    func log(to logger: Logger) {
        switch self {
        case .workerReady(let worker, let service):
            logger.info("worker ready", metadata: ["mdp.worker": "\(worker)", "mdp.service": "\(service)"])
        case .workerGone(let worker, let service, let reason):
            logger.info("worker gone", metadata: [
                "mdp.worker": "\(worker)", "mdp.service": "\(service)", "reason": "\(reason.rawValue)",
            ])
        case .requestRequeued(let service, let client):
            logger.notice("request requeued", metadata: ["mdp.service": "\(service)", "mdp.client": "\(client)"])
        case .requestExpired(let service, let client):
            logger.warning("request expired with no worker for its service", metadata: [
                "mdp.service": "\(service)", "mdp.client": "\(client)",
            ])
        case .queueFull(let service, let client):
            logger.warning("request dropped: service queue full", metadata: [
                "mdp.service": "\(service)", "mdp.client": "\(client)",
            ])
        case .clientUnreachable(let client):
            logger.debug("reply dropped: client gone", metadata: ["mdp.client": "\(client)"])
        case .malformed(let peer, let error):
            logger.warning("malformed message dropped", metadata: ["mdp.peer": "\(peer)", "mdp.error": "\(error)"])
        case .unexpectedCommand(let peer, let command):
            logger.warning("unexpected command, sending DISCONNECT", metadata: [
                "mdp.peer": "\(peer)", "mdp.command": "\(command)",
            ])
        case .reservedServiceRefused(let worker, let service):
            logger.warning("worker refused: service name is reserved", metadata: [
                "mdp.worker": "\(worker)", "mdp.service": "\(service)",
            ])
        case .unknownReservedService(let client, let service):
            logger.info("request for an unknown reserved service", metadata: [
                "mdp.client": "\(client)", "mdp.service": "\(service)",
            ])
        }
    }
}
