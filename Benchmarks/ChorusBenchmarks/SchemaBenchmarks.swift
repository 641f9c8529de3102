import Benchmark
import ChorusCore
import NIOCore

/// What the event bus does per published event of a type with a schema: the event's `data` as
/// a tree, then validation (docs/event-bus.md, "Schemas").
func schemaBenchmarks() {
    let data = ByteBuffer(
        string: #"{"order_id":"ord-1f9a","customer":{"id":"u-42","email":"ada@example.com"},"items":[{"sku":"A-1","qty":2,"price":9.5},{"sku":"B-7","qty":1,"price":120}],"total":139,"currency":"EUR"}"#
    )
    let schemaText = ByteBuffer(
        string: #"""
            {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
             "required": ["order_id", "customer", "items", "total", "currency"], "additionalProperties": false,
             "properties": {
               "order_id": {"type": "string", "pattern": "^ord-[0-9a-f]+$"},
               "customer": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string", "minLength": 1}, "email": {"type": "string", "format": "email"}}},
               "items": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["sku", "qty", "price"],
                 "properties": {"sku": {"type": "string", "maxLength": 32}, "qty": {"type": "integer", "minimum": 1}, "price": {"type": "number", "exclusiveMinimum": 0}}}},
               "total": {"type": "number", "minimum": 0},
               "currency": {"enum": ["EUR", "USD", "GBP"]}}}
            """#
    )
    let schema = try! JSONSchema(parsing: schemaText)
    let tree = try! JSONValue(parsing: data)
    precondition(schema.isValid(tree), "the benchmark's event does not match its schema")

    Benchmark("JSONValue parse of a \(data.readableBytes)-byte event", configuration: .perOperation) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try! JSONValue(parsing: data))
        }
    }

    Benchmark("JSONSchema validate the parsed event (12 subschemas)", configuration: .perOperation) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(schema.validate(tree))
        }
    }

    Benchmark("JSONSchema compile (\(schemaText.readableBytes) bytes)", configuration: .perOperation) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try! JSONSchema(parsing: schemaText))
        }
    }
}
