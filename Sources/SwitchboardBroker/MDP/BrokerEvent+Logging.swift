import Logging
import Majordomo

extension BrokerEvent {
    /// Logs the event as a fixed message with metadata, never a message body: peer ids
    /// and service names in a bounded form (`MDP.loggable`), frames as size and prefix.
    func log(to logger: Logger) {
        switch self {
        case .workerReady(let worker, let service):
            // Named as timelines and answers name it; its connection's routing id beside.
            logger.info("worker ready", metadata: [
                "mdp.worker": "\(InquiryMachine.workerName(worker))", "mdp.peer": "\(MDP.loggable(peer: worker))", "mdp.service": "\(MDP.loggable(service))",
            ])
        case .workerGone(let worker, let service, let reason):
            logger.info("worker gone", metadata: [
                "mdp.worker": "\(InquiryMachine.workerName(worker))", "mdp.service": "\(MDP.loggable(service))", "reason": "\(reason.rawValue)",
            ])
        case .requestRequeued(let service, let client):
            logger.notice("request requeued", metadata: ["mdp.service": "\(MDP.loggable(service))", "mdp.client": "\(MDP.loggable(peer: client))"])
        case .requestExpired(let service, let client):
            logger.warning("request expired with no worker for its service", metadata: [
                "mdp.service": "\(MDP.loggable(service))", "mdp.client": "\(MDP.loggable(peer: client))",
            ])
        case .queueFull(let service, let client):
            logger.warning("request dropped: service queue full", metadata: [
                "mdp.service": "\(MDP.loggable(service))", "mdp.client": "\(MDP.loggable(peer: client))",
            ])
        case .clientUnreachable(let client):
            logger.debug("reply dropped: client gone", metadata: ["mdp.client": "\(MDP.loggable(peer: client))"])
        case .malformed(let peer, let error):
            logger.warning("malformed message dropped", metadata: ["mdp.peer": "\(MDP.loggable(peer: peer))", "mdp.error": "\(error)"])
        case .unexpectedCommand(let peer, let command):
            logger.warning("unexpected command, sending DISCONNECT", metadata: [
                "mdp.peer": "\(MDP.loggable(peer: peer))", "mdp.command": "\(command)",
            ])
        case .reservedServiceRefused(let worker, let service):
            logger.warning("worker refused: service name is reserved", metadata: [
                "mdp.worker": "\(InquiryMachine.workerName(worker))", "mdp.service": "\(MDP.loggable(service))",
            ])
        case .unknownReservedService(let client, let service):
            logger.info("request for an unknown reserved service", metadata: [
                "mdp.client": "\(MDP.loggable(peer: client))", "mdp.service": "\(MDP.loggable(service))",
            ])
        }
    }
}
