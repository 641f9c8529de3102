import NIOCore

/// One frame that is not a message (a presence diff) on its way to a topic's subscribers on
/// one loop, where a slice stopped: the subscribers are a copy (copy-on-write), so the trie may
/// change between slices, and a connection closed meanwhile writes nothing.
struct FrameFanOut {
    let frame: ByteBuffer
    let subscribers: Set<ConnectionKey>
    /// The next subscriber to write; nil before the first.
    var position: Set<ConnectionKey>.Index?

    init(frame: ByteBuffer, subscribers: Set<ConnectionKey>) {
        self.frame = frame
        self.subscribers = subscribers
    }
}
