import Hummingbird
import Testing

@testable import ChorusServer

@Suite struct RouteMethodsTests {
    private func methods() -> RouteMethods {
        let router = Router()
        router.get("/health") { _, _ in "ok" }
        router.post("/api/publish") { _, _ in "ok" }
        router.get("/api/items/:id") { _, _ in "ok" }
        router.delete("/api/items/:id") { _, _ in "ok" }
        router.get("/files/**") { _, _ in "ok" }
        let methods = RouteMethods()
        methods.record(router)
        return methods
    }

    @Test func listsEveryMethodOfAPathWithHEADBesideGET() {
        let methods = self.methods()
        #expect(methods.allowHeader(for: "/health") == "GET, HEAD")
        #expect(methods.allowHeader(for: "/api/publish") == "POST")
        #expect(methods.allowHeader(for: "/api/items/42") == "DELETE, GET, HEAD")
        #expect(methods.allowHeader(for: "/files/a/b/c") == "GET, HEAD")
    }

    @Test func unknownPathsHaveNone() {
        let methods = self.methods()
        #expect(methods.allowHeader(for: "/api/items") == nil)
        #expect(methods.allowHeader(for: "/api/items/42/more") == nil)
        #expect(methods.allowHeader(for: "/nothing") == nil)
        #expect(RouteMethods().allowHeader(for: "/health") == nil)
    }
}
