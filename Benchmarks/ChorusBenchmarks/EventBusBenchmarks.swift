import Benchmark
import ChorusCore
import ChorusServer
import NIOCore

/// The event bus's per-event work outside I/O: a consumer's filter on the data, the scheduler's
/// bookkeeping per delivery, and a webhook's signature.
func eventBusBenchmarks() {
    let data = try! RawJSON(
        validating: ByteBuffer(
            string: #"{"customer":{"id":"c-1842","tier":"gold","email":"a@example.com","country":"DE"},"items":[{"sku":"A-1","qty":2,"price":19.5},{"sku":"B-2","qty":1,"price":81}],"total":120.0,"currency":"EUR","paid":true}"#
        )
    )
    for source in [#"customer.tier == "gold""#, #"customer.tier in ["gold", "platinum"] and total >= 100"#] {
        let filter = try! EventFilter(parsing: source)
        Benchmark("EventFilter matches \(source) (\(data.bytes.readableBytes) B)", configuration: .perOperation) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(filter.matches(data: data))
            }
        }
    }

    // One enqueue and one success per delivery, 1,000 keys, ordered, 64 in flight.
    Benchmark("DeliveryScheduler ordered: enqueue and succeed one delivery", configuration: .perOperation) { benchmark in
        var scheduler = DeliveryScheduler(ordering: .ordered, concurrency: 64)
        var inFlight: [DeliveryScheduler.Delivery] = []
        var sequence: Int64 = 0
        for _ in benchmark.scaledIterations {
            sequence += 1
            inFlight += scheduler.enqueue(DeliveryScheduler.Delivery(sequence: sequence, partitionKey: "k\(sequence % 1000)"), now: sequence).start
            if let delivery = inFlight.popLast() {
                inFlight += scheduler.succeeded(sequence: delivery.sequence, now: sequence).start
            }
        }
        blackHole(scheduler.pendingCount)
    }

    let secret = try! WebhookSecret(parsing: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    Benchmark("WebhookSignature headers (\(data.bytes.readableBytes) B body)", configuration: .perOperation) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(WebhookSignature.headers(id: "evt_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: data.bytes, secrets: [secret]))
        }
    }
}
