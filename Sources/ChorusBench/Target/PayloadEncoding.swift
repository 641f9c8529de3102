/// How `chorus bench fanout` publishes its stamped payload to Chorus (`--payload`), to compare
/// binary messages with the same bytes base64'd in JSON (docs/protocol.md, "Binary frames"):
/// - `json`: the payload is the message's JSON `data`.
/// - `binary`: the payload's bytes are the body of an `application/octet-stream` publish (a
///   binary message); subscribers on `/ws?binary=1` get binary frames, others base64 JSON.
/// - `base64`: the payload's bytes base64'd into a JSON string as `data`, as an application
///   without binary messages would send them.
public enum PayloadEncoding: String, Codable, Sendable, CaseIterable {
    case json, binary, base64
}
