import ChorusServer
import Foundation

extension HubConfiguration {
    /// The defaults on any free port, with a data folder of its own in the temporary directory:
    /// the default, `chorus-data` in the working directory, is shared with every other test that
    /// runs a server meanwhile (the event bus's file). The test removes `dataDirectory`.
    static func isolated() -> HubConfiguration {
        var configuration = HubConfiguration()
        configuration.port = 0
        configuration.dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-test-\(UUID().uuidString)").path
        return configuration
    }
}
