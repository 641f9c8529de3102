import Foundation

/// The JSON test vectors in Tests/vectors/ that the hub's, the Swift client's and chorus.js's
/// tests share (`event-publish.json`, …), read as Foundation objects.
public enum SharedVectors {
    /// The top-level object of `Tests/vectors/<name>`.
    public static func object(_ name: String) -> [String: Any] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("vectors").appendingPathComponent(name)
        return try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }
}
