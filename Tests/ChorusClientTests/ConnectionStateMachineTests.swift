import ChorusClient
import Testing

@Suite struct ConnectionStateMachineTests {
    @Test func startConnectsOnceFromAFinalState() {
        var machine = ConnectionStateMachine()
        let effect6 = machine.start()
        #expect(effect6 == .connect)
        #expect(machine.state == .connecting)
        let effect9 = machine.start()
        #expect(effect9 == .none)
        machine.opened()
        #expect(machine.state == .connected)
    }

    @Test func lossSchedulesGrowingJitteredRetries() {
        var machine = ConnectionStateMachine()
        _ = machine.start()
        let effect18 = machine.lost(.reconnect, upFor: nil, random: 0.5)
        #expect(effect18 == .retry(after: .milliseconds(500), refreshToken: false))
        #expect(machine.state == .reconnecting)
        let effect21 = machine.lost(.reconnect, upFor: nil, random: 0.5)
        #expect(effect21 == .retry(after: .seconds(1), refreshToken: false))
        let effect23 = machine.lost(.refreshToken, upFor: nil, random: 1)
        #expect(effect23 == .retry(after: .seconds(4), refreshToken: true))
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
        _ = machine.start()
        let effect45 = machine.lost(.reconnect, upFor: nil, random: 0)
        #expect(effect45 != .giveUp)
        let effect47 = machine.lost(.reconnect, upFor: nil, random: 0)
        #expect(effect47 != .giveUp)
        let effect49 = machine.lost(.reconnect, upFor: nil, random: 0)
        #expect(effect49 == .giveUp)
        #expect(machine.state == .error)
        let effect52 = machine.start()
        #expect(effect52 == .connect)
        #expect(machine.attempt == 0)
    }

    @Test func stopAndCloseEndInDisconnected() {
        var machine = ConnectionStateMachine()
        _ = machine.start()
        machine.opened()
        let effect61 = machine.lost(.stop, upFor: .seconds(1), random: 0)
        #expect(effect61 == .stop)
        #expect(machine.state == .disconnected)
        let effect64 = machine.lost(.reconnect, upFor: nil, random: 0)
        #expect(effect64 == .none)
        _ = machine.start()
        machine.close()
        #expect(machine.state == .disconnected)
    }
}
