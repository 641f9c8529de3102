import ChorusClient
import Testing

@Suite struct ConnectionStateMachineTests {
    /// Feeds `events` to a machine, collecting each effect (mutating calls cannot sit in #expect).
    func effects(_ machine: inout ConnectionStateMachine, _ events: [(inout ConnectionStateMachine) -> ConnectionStateMachine.Effect]) -> [ConnectionStateMachine.Effect] {
        events.map { $0(&machine) }
    }

    @Test func startConnectsOnceFromAFinalState() {
        var machine = ConnectionStateMachine()
        #expect(self.effects(&machine, [{ $0.start() }, { $0.start() }]) == [.connect, .none])
        #expect(machine.state == .connecting)
        machine.opened()
        #expect(machine.state == .connected)
    }

    @Test func lossSchedulesGrowingJitteredRetries() {
        var machine = ConnectionStateMachine()
        let seen = self.effects(&machine, [
            { $0.start() },
            { $0.lost(.reconnect, upFor: nil, random: 0.5) },
            { $0.lost(.reconnect, upFor: nil, random: 0.5) },
            { $0.lost(.refreshToken, upFor: nil, random: 1) },
        ])
        #expect(seen == [
            .connect,
            .retry(after: .milliseconds(500), refreshToken: false),
            .retry(after: .seconds(1), refreshToken: false),
            .retry(after: .seconds(4), refreshToken: true),
        ])
        #expect(machine.state == .reconnecting)
        machine.opened()
        #expect(machine.state == .connected)
    }

    @Test func aConnectionThatStayedUpResetsTheAttempts() {
        var machine = ConnectionStateMachine()
        _ = machine.start()
        for _ in 0..<4 { _ = machine.lost(.reconnect, upFor: nil, random: 0) }
        machine.opened()
        // Dropped at once: the delays keep growing.
        _ = machine.lost(.reconnect, upFor: .seconds(1), random: 0)
        #expect(machine.attempt == 5)
        machine.opened()
        _ = machine.lost(.reconnect, upFor: .seconds(5), random: 0)
        #expect(machine.attempt == 1)
    }

    @Test func maxAttemptsGiveUpInTheErrorState() {
        var machine = ConnectionStateMachine(maxAttempts: 2)
        let lose: (inout ConnectionStateMachine) -> ConnectionStateMachine.Effect = { $0.lost(.reconnect, upFor: nil, random: 0) }
        #expect(self.effects(&machine, [{ $0.start() }, lose, lose, lose]) == [.connect, .retry(after: .zero, refreshToken: false), .retry(after: .zero, refreshToken: false), .giveUp])
        #expect(machine.state == .error)
        #expect(self.effects(&machine, [{ $0.start() }]) == [.connect])
        #expect(machine.attempt == 0)
    }

    @Test func stopAndCloseEndInDisconnected() {
        var machine = ConnectionStateMachine()
        _ = machine.start()
        machine.opened()
        #expect(self.effects(&machine, [{ $0.lost(.stop, upFor: .seconds(1), random: 0) }, { $0.lost(.reconnect, upFor: nil, random: 0) }]) == [.stop, .none])
        #expect(machine.state == .disconnected)
        _ = machine.start()
        machine.close()
        #expect(machine.state == .disconnected)
    }
}
