import ChorusCore
import NIOCore

extension Authenticator {
    /// Verifies `token` off the event loop (jwt-kit's key collection is an actor) and hands the
    /// result to `body` back on `loop`, where the connection's state lives.
    ///
    /// A token verified before (``VerifiedTokenCache``) is answered at once, without the hop.
    func verify(token: String, thenOn loop: any EventLoop, _ body: @escaping (Result<Identity, ProtocolError>) -> Void) {
        if loop.inEventLoop, let identity = self.verifiedTokens.identity(for: token, nowMilliseconds: WallClock.milliseconds()) {
            return body(.success(identity))
        }
        let callback = NIOLoopBound(body, eventLoop: loop)
        Task {
            let result: Result<Identity, ProtocolError>
            do throws(ProtocolError) {
                result = .success(try await self.verify(token: token))
            } catch {
                result = .failure(error)
            }
            loop.execute { callback.value(result) }
        }
    }
}
