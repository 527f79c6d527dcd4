/// Switchboard's version, shown by `--version` and exported as `switchboard_build_info`.
public enum SwitchboardVersion {
    public static let current = "0.1.0"
}
