/// The version of the wire protocol a WebSocket connection speaks.
///
/// A client asks for v1.1 by offering the WebSocket subprotocol `chorus.v1.1`
/// (`Sec-WebSocket-Protocol`); the hub selects it in its 101 response. A connection that
/// offers none, or only unknown ones, speaks v1, unchanged.
///
/// Two bytes: every connection keeps one.
public struct ProtocolVersion: Hashable, Sendable, CustomStringConvertible {
    /// The major version: 1.
    public let major: UInt8
    /// The minor version: 0 or 1.
    public let minor: UInt8

    /// The version `major`.`minor`.
    public init(major: UInt8, minor: UInt8) {
        self.major = major
        self.minor = minor
    }

    /// v1: what a connection speaks unless it asks for more.
    public static let v1 = ProtocolVersion(major: 1, minor: 0)
    /// `connected` first; `reason` on `error` and `disconnect`.
    public static let v1_1 = ProtocolVersion(major: 1, minor: 1)

    /// As the `connected` frame's `protocol` field spells it: "1", "1.1".
    public var description: String {
        self.minor == 0 ? String(self.major) : "\(self.major).\(self.minor)"
    }

    /// The subprotocol that selects this version; nil for v1, which is spoken without one.
    public var subprotocol: String? {
        self == .v1 ? nil : "chorus.v" + self.description
    }

    /// Versions the hub speaks, newest first: negotiation picks the first one the client offers.
    public static let supported: [ProtocolVersion] = [.v1_1, .v1]

    /// The version for a client that offers `subprotocols` (the tokens of every
    /// `Sec-WebSocket-Protocol` header, in order): the newest one the hub speaks, else v1.
    public static func negotiate(offered subprotocols: [String]) -> ProtocolVersion {
        Self.supported.first { version in version.subprotocol.map(subprotocols.contains) ?? true } ?? .v1
    }
}
