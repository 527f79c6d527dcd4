import Foundation
import SwitchboardProtocol

/// What a platform's answer to a post means, whatever the platform: posted, wait and try
/// again, the account needs new credentials, or refused for good with a code from the
/// error registry. Each platform's publishing reads its own answers into this; the
/// gateway's publishing worker carries it out the same way for all.
public enum PublishOutcome: Equatable, Sendable {
    /// Posted, as this id on the platform.
    case posted(externalID: String?)
    /// Throttled or a passing fault: wait (as the platform says, when it does) and
    /// post again; nothing was posted.
    case retry(after: TimeInterval?, reason: String)
    /// The account's token was refused (expired, revoked): the account waits for new
    /// credentials; the message is neither lost nor failed.
    case reauthorize(reason: String)
    /// Refused for good: the agent sees the code and the reason.
    case failed(ErrorCode, reason: String)
}
