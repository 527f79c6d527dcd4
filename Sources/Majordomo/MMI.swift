import ZeroMQ

/// The Majordomo Management Interface, 8/MMI: services named `mmi.*` that the broker
/// answers itself.
public enum MMI {
    /// `mmi.service`: the body is a service name; the reply is `200` if a worker
    /// serves it, else `404`.
    public static let service = "mmi.service"

    public static let found: Frame = "200"
    public static let notFound: Frame = "404"
    /// The reply to any `mmi.*` service the broker does not implement.
    public static let notImplemented: Frame = "501"
}
