import Testing

@testable import ChorusServer

/// The API's guard: which bodies it takes as JSON or as a binary publish.
@Suite struct APIRequestGuardMiddlewareTests {
    @Test func contentTypesAreReadWithoutTheirParametersAndBlanks() {
        #expect(APIRequestGuardMiddleware<ChorusRequestContext>.mediaType(" \tApplication/JSON ; charset=utf-8") == "application/json")
        #expect(APIRequestGuardMiddleware<ChorusRequestContext>.mediaType("application/json") == "application/json")
        #expect(APIRequestGuardMiddleware<ChorusRequestContext>.mediaType(" ; x") == "")
        #expect(APIRequestGuardMiddleware<ChorusRequestContext>.mediaType("") == "")
        #expect(APIRequestGuardMiddleware<ChorusRequestContext>.mediaType(" Ébc/Dé\t") == "ébc/dé")
        #expect(APIRequestGuardMiddleware<ChorusRequestContext>.isJSON("application/cloudevents+json; charset=utf-8"))
        #expect(!APIRequestGuardMiddleware<ChorusRequestContext>.isJSON("text/json"))
        #expect(APIRequestGuardMiddleware<ChorusRequestContext>.isBinary("application/octet-stream\t"))
    }
}
