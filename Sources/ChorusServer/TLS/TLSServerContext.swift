import NIOSSL

/// The server side of TLS as `tls_cert` and `tls_key` configure it: TLS 1.2 at least,
/// forward-secret AEAD cipher suites only, ALPN `http/1.1`.
enum TLSServerContext {
    /// TLS 1.2's suites, as Mozilla's "intermediate" profile: ECDHE key exchange with AES-GCM or
    /// ChaCha20-Poly1305 (no CBC, no RSA key exchange). TLS 1.3's are BoringSSL's fixed set,
    /// AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305.
    static let cipherSuites = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")

    /// The one protocol the port speaks after the handshake (WebSocket and SSE start as HTTP/1.1).
    static let applicationProtocols = ["http/1.1"]

    /// The files `tls_cert` and `tls_key` name; nil when neither is set, an error when only one is.
    static func files(of configuration: HubConfiguration) throws(ConfigurationError) -> (certificate: String, key: String)? {
        switch (configuration.tlsCertificateFile, configuration.tlsKeyFile) {
        case (nil, nil):
            return nil
        case (let certificate?, let key?):
            return (certificate, key)
        case (nil, _):
            throw ConfigurationError("tls_key is set but tls_cert is not: TLS needs both (the certificate chain and its private key), or neither")
        case (_, nil):
            throw ConfigurationError("tls_cert is set but tls_key is not: TLS needs both (the certificate chain and its private key), or neither")
        }
    }

    /// A context serving the chain in `certificateFile` (leaf first) with the key in `keyFile`,
    /// or an error saying which file is wrong and why.
    static func make(certificateFile: String, keyFile: String) throws(ConfigurationError) -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
        } catch {
            throw ConfigurationError("tls_cert '\(certificateFile)': cannot read a PEM certificate chain (\(error))")
        }
        guard !chain.isEmpty else {
            throw ConfigurationError("tls_cert '\(certificateFile)': no PEM certificate in it")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        } catch {
            throw ConfigurationError("tls_key '\(keyFile)': cannot read a PEM private key (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuites = Self.cipherSuites
        configuration.applicationProtocols = Self.applicationProtocols
        // A closing connection waits this long for the client's close_notify: the same bound as
        // the hub's own close handshake, so TLS does not stretch "every close ends within 2 s".
        configuration.shutdownTimeout = CloseHandshake.gracePeriod
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            // BoringSSL checks the key against the leaf certificate here.
            throw ConfigurationError("tls_key '\(keyFile)' does not fit tls_cert '\(certificateFile)' (\(error))")
        }
    }
}
