import Logging
import NIOSSL
import Synchronization

/// The TLS context new connections get, swapped whole on reload: a connection keeps the
/// context it started with, so reloading drops none.
final class ReloadableTLSContext: Sendable {
    let certificateFile: String
    let keyFile: String
    private let current: Mutex<NIOSSLContext>

    /// The context of the configured pair; nil when TLS is not configured.
    convenience init?(configuration: HubConfiguration) throws(ConfigurationError) {
        guard let files = try TLSServerContext.files(of: configuration) else { return nil }
        try self.init(certificateFile: files.certificate, keyFile: files.key)
    }

    init(certificateFile: String, keyFile: String) throws(ConfigurationError) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.current = Mutex(try TLSServerContext.make(certificateFile: certificateFile, keyFile: keyFile))
    }

    /// The context for a connection accepted now.
    var context: NIOSSLContext { self.current.withLock { $0 } }

    /// Reads both files again and serves them to new connections; when they are broken, keeps
    /// the current pair and says why. True when the new pair is in use.
    @discardableResult
    func reload(logger: Logger) -> Bool {
        do throws(ConfigurationError) {
            let context = try TLSServerContext.make(certificateFile: self.certificateFile, keyFile: self.keyFile)
            self.current.withLock { $0 = context }
            logger.notice("TLS certificate reloaded from \(self.certificateFile); new connections use it")
            return true
        } catch {
            logger.error("TLS certificate not reloaded, still serving the previous one: \(error.message)")
            return false
        }
    }
}
