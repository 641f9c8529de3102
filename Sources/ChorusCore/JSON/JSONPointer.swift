/// RFC 6901 JSON Pointers, built one reference token at a time.
enum JSONPointer {
    /// One step into a value: an object member or an array element.
    enum Token: Sendable {
        case key(String)
        case index(Int)
    }

    /// `pointer` followed by `token`, escaped (`~` as `~0`, then `/` as `~1`).
    static func appending(_ token: Token, to pointer: String) -> String {
        switch token {
        case .index(let index):
            return pointer + "/" + String(index)
        case .key(let key):
            guard key.contains(where: { $0 == "~" || $0 == "/" }) else {
                return pointer + "/" + key
            }
            return pointer + "/" + key.replacing("~", with: "~0").replacing("/", with: "~1")
        }
    }

    /// The pointer made of `tokens`, from the root (`""`).
    static func string(_ tokens: [Token]) -> String {
        tokens.reduce("") { pointer, token in Self.appending(token, to: pointer) }
    }
}
