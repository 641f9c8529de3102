import ChorusCore
import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import ChorusServer

/// Broker interests: what each subscription needs, the counting that says when an interest
/// starts and ends, and the registry that tells the broker once per interest over all loops.
@Suite struct InterestTests {
    @Test func aPatternNeedsItsTopicItsNamespaceOrEverything() throws {
        #expect(BrokerInterest(try TopicPattern("chat:a")) == .topic("chat:a"))
        #expect(BrokerInterest(try TopicPattern("chat:*")) == .namespace("chat"))
        #expect(BrokerInterest(try TopicPattern("room.**")) == .namespace("room"))
        #expect(BrokerInterest(try TopicPattern("**")) == .everything)
        #expect(BrokerInterest(try TopicPattern("*.typing")) == .everything)
        let topic = BrokerMessage.Target.topic(try Topic("chat:a"))
        #expect(BrokerInterest.namespace("chat").covers(topic))
        #expect(!BrokerInterest.namespace("room").covers(topic))
        #expect(BrokerInterest.everything.covers(topic))
        #expect(!BrokerInterest.everything.covers(.user("ann")))
        #expect(BrokerInterest.user("ann").covers(.disconnect(user: "ann", reason: "bye", reconnect: false)))
        #expect(!BrokerInterest.user("ann").covers(.user("bob")))
    }

    @Test func theCounterSaysWhenTheFirstHolderComesAndTheLastGoes() {
        var counter = InterestCounter<String>()
        let steps = [
            counter.retain("a"), counter.retain("a"), counter.retain("b"), counter.release("a"), counter.release("a"),
            // Released more often than retained: nothing ends twice.
            counter.release("a"), counter.retain("a"), counter.release("b"),
        ]
        #expect(steps == [true, false, true, false, true, false, true, true])
    }

    /// A broker whose subscriptions are confirmed when the test says so.
    final class ConfirmingBroker: Broker {
        let calls = Mutex<[String]>([])
        let promises = Mutex<[BrokerInterest: EventLoopPromise<Void>]>([:])

        func publish(_ message: BrokerMessage) {}
        func publish(contentsOf messages: [BrokerMessage]) {}

        func subscribe(to interest: BrokerInterest, on loop: any EventLoop) -> EventLoopFuture<Void> {
            self.calls.withLock { $0.append("+\(interest)") }
            let promise = loop.makePromise(of: Void.self)
            self.promises.withLock { $0[interest] = promise }
            return promise.futureResult
        }

        func unsubscribe(from interest: BrokerInterest) {
            self.calls.withLock { $0.append("-\(interest)") }
        }

        func confirm(_ interest: BrokerInterest) {
            self.promises.withLock { $0.removeValue(forKey: interest) }?.succeed()
        }
    }

    @Test func theRegistryTellsTheBrokerOncePerInterestOverAllLoops() {
        let loop = EmbeddedEventLoop()
        let broker = ConfirmingBroker()
        let registry = InterestRegistry()
        registry.attach(broker)
        // Two loops hold the topic; it is ready only once the broker confirms.
        registry.started(.topic("chat:a"), on: loop)
        registry.started(.topic("chat:a"), on: loop)
        let ready = registry.ready(.topic("chat:a"), on: loop)
        let confirmed = Mutex(false)
        ready.whenSuccess { confirmed.withLock { $0 = true } }
        #expect(!confirmed.withLock { $0 })
        broker.confirm(.topic("chat:a"))
        #expect(confirmed.withLock { $0 })
        // Confirmed: later subscribers need not wait.
        let again = Mutex(false)
        registry.ready(.topic("chat:a"), on: loop).whenSuccess { again.withLock { $0 = true } }
        #expect(again.withLock { $0 })
        registry.ended(.topic("chat:a"))
        #expect(broker.calls.withLock { $0 } == ["+topic:chat:a"])
        registry.ended(.topic("chat:a"))
        registry.started(.topic("chat:a"), on: loop)
        #expect(broker.calls.withLock { $0 } == ["+topic:chat:a", "-topic:chat:a", "+topic:chat:a"])
    }

    /// The shard reports the first and last subscription of an interest and of a user on its loop.
    @Test func aShardReportsItsFirstAndLastHolders() throws {
        let loop = EmbeddedEventLoop()
        let broker = ConfirmingBroker()
        let configuration = HubConfiguration()
        let hub = try Hub(configuration: configuration, eventLoopGroup: loop, authenticator: Authenticator(configuration: configuration)) { _ in broker }
        let shard = hub.shard(for: loop)
        let ann = BrokerTests.Recorder(hub.makeConnectionInfo(transport: .webSocket, user: "ann", remoteAddress: nil))
        let bob = BrokerTests.Recorder(hub.makeConnectionInfo(transport: .webSocket, user: nil, remoteAddress: nil))
        shard.register(ann)
        shard.register(bob)
        for connection in [ann, bob] {
            _ = shard.subscribe(connection, to: try TopicPattern("chat:*"), filtered: false)
            _ = shard.subscribe(connection, to: try TopicPattern("chat:a"), filtered: false)
        }
        #expect(broker.calls.withLock { $0 } == ["+user:ann", "+namespace:chat", "+topic:chat:a"])
        _ = shard.unsubscribe(ann, from: try TopicPattern("chat:a"))
        shard.unregister(ann)
        #expect(broker.calls.withLock { $0 }.suffix(1) == ["-user:ann"])
        shard.unregister(bob)
        #expect(Set(broker.calls.withLock { $0 }.suffix(2)) == ["-namespace:chat", "-topic:chat:a"])
    }
}
