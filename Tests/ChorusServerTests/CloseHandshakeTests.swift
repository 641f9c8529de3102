import NIOCore
import Testing

@testable import ChorusServer

/// Every way a connection ends has a deadline: a client that does not read can hold none open.
@Suite struct CloseHandshakeTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test func hubCloseAwaitsThePeerUntilTheDeadline() {
        var handshake = CloseHandshake()
        #expect(handshake.hubCloses(awaitPeer: true, now: self.start) == .sendAndAwaitPeer)
        #expect(handshake.isEnding)
        #expect(handshake.hubCloses(awaitPeer: false, now: self.start) == .none)
        #expect(handshake.deadlinePassed(now: self.start + .milliseconds(1999)) == .none)
        #expect(handshake.deadlinePassed(now: self.start + CloseHandshake.gracePeriod) == .close)
        #expect(handshake.state == .closed)
        #expect(handshake.deadlinePassed(now: self.start + .seconds(60)) == .none)
    }

    @Test func peerAnswerClosesAtOnce() {
        var handshake = CloseHandshake()
        _ = handshake.hubCloses(awaitPeer: true, now: self.start)
        #expect(handshake.peerClosed(now: self.start) == .close)
        #expect(handshake.state == .closed)
    }

    /// A close without waiting for an answer (violation, idle client, SSE) still waits for its
    /// last write, which a client that does not read never takes: the deadline ends it.
    @Test func closeWhenFlushedHasADeadlineToo() {
        var handshake = CloseHandshake()
        #expect(handshake.hubCloses(awaitPeer: false, now: self.start) == .sendAndCloseWhenFlushed)
        #expect(handshake.peerClosed(now: self.start) == .none)
        #expect(handshake.deadlinePassed(now: self.start + .seconds(1)) == .none)
        #expect(handshake.deadlinePassed(now: self.start + .seconds(3)) == .close)
    }

    @Test func clientInitiatedCloseIsAnsweredWithADeadline() {
        var handshake = CloseHandshake()
        #expect(handshake.peerClosed(now: self.start) == .sendAndCloseWhenFlushed)
        #expect(handshake.hubCloses(awaitPeer: true, now: self.start) == .none)
        #expect(handshake.deadlinePassed(now: self.start + .seconds(3)) == .close)
    }

    @Test func aCutConnectionIsClosed() {
        var handshake = CloseHandshake()
        handshake.closed()
        #expect(handshake.isEnding)
        #expect(handshake.peerClosed(now: self.start) == .none)
        #expect(handshake.deadlinePassed(now: self.start + .seconds(3)) == .none)
    }
}

/// The transitions the tests above leave out: nothing happens twice, nothing happens while open.
extension CloseHandshakeTests {
    @Test func anOpenConnectionHasNoDeadline() {
        var handshake = CloseHandshake()
        #expect(!handshake.isEnding)
        #expect(handshake.deadlinePassed(now: self.start + .seconds(3600)) == .none)
        #expect(handshake.state == .open)
    }

    @Test func eachWaitRecordsItsDeadline() {
        var awaiting = CloseHandshake()
        _ = awaiting.hubCloses(awaitPeer: true, now: self.start)
        #expect(awaiting.state == .awaitingPeer(deadline: self.start + CloseHandshake.gracePeriod))
        var flushing = CloseHandshake()
        _ = flushing.peerClosed(now: self.start)
        #expect(flushing.state == .flushing(deadline: self.start + CloseHandshake.gracePeriod))
    }

    @Test func aSecondClientCloseIsIgnored() {
        var handshake = CloseHandshake()
        #expect(handshake.peerClosed(now: self.start) == .sendAndCloseWhenFlushed)
        #expect(handshake.peerClosed(now: self.start) == .none)
        #expect(handshake.hubCloses(awaitPeer: false, now: self.start) == .none)
    }

    @Test func aConnectionGoneWhileAwaitingThePeerNeedsNoDeadline() {
        var handshake = CloseHandshake()
        _ = handshake.hubCloses(awaitPeer: true, now: self.start)
        handshake.closed()
        #expect(handshake.state == .closed)
        #expect(handshake.deadlinePassed(now: self.start + .seconds(3)) == .none)
        #expect(handshake.peerClosed(now: self.start) == .none)
        #expect(handshake.hubCloses(awaitPeer: true, now: self.start) == .none)
    }

    @Test func aClosedHandshakeStaysClosed() {
        var handshake = CloseHandshake()
        _ = handshake.hubCloses(awaitPeer: false, now: self.start)
        #expect(handshake.deadlinePassed(now: self.start + CloseHandshake.gracePeriod) == .close)
        #expect(handshake.peerClosed(now: self.start + .seconds(3)) == .none)
        #expect(handshake.hubCloses(awaitPeer: true, now: self.start + .seconds(3)) == .none)
        #expect(handshake.state == .closed)
    }
}
