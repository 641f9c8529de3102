import ChorusCore
import NIOCore
import Testing

/// `JSONSchema`: each supported keyword, where violations point, and what is refused.
@Suite struct JSONSchemaTests {
    private func schema(_ text: String, limits: JSONSchema.Limits = JSONSchema.Limits()) throws(JSONSchemaError) -> JSONSchema {
        try JSONSchema(parsing: ByteBuffer(string: text), limits: limits)
    }

    private func violations(_ schema: String, _ instance: String) throws -> [SchemaViolation] {
        try self.schema(schema).validate(JSONValue(parsing: ByteBuffer(string: instance)))
    }

    private func refusal(_ schema: String, limits: JSONSchema.Limits = JSONSchema.Limits()) -> JSONSchemaError? {
        do {
            _ = try self.schema(schema, limits: limits)
            return nil
        } catch {
            return error
        }
    }

    @Test func aValidValueHasNoViolations() throws {
        let schema = #"""
            {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer", "minimum": 1},
             "tags": {"type": "array", "items": {"type": "string", "maxLength": 3}}}, "additionalProperties": false}
            """#
        #expect(try self.violations(schema, #"{"id": 1.0, "tags": ["a", "bcd"]}"#).isEmpty)
        #expect(try self.schema(schema).isValid(JSONValue(parsing: ByteBuffer(string: #"{"id": 7}"#))))
    }

    @Test func typeNamesTheExpectedAndActualTypes() throws {
        #expect(try self.violations(#"{"type": "string"}"#, "1") == [SchemaViolation(instanceLocation: "", keywordLocation: "/type", message: "expected string, got integer")])
        #expect(try self.violations(#"{"type": ["string", "null"]}"#, "1.5").map(\.message) == ["expected null or string, got number"])
        #expect(try self.violations(#"{"type": "integer"}"#, "1.0").isEmpty)
        #expect(try self.violations(#"{"type": "number"}"#, "1").isEmpty)
        #expect(try self.violations(#"{"type": ["boolean", "array", "object"]}"#, "{}").isEmpty)
    }

    @Test func requiredReportsEachMissingProperty() throws {
        let violations = try self.violations(#"{"properties": {"a": {"required": ["x", "y", "z"]}}}"#, #"{"a": {"y": 1}}"#)
        #expect(violations.map(\.instanceLocation) == ["/a", "/a"])
        #expect(violations.map(\.keywordLocation) == ["/properties/a/required", "/properties/a/required"])
        #expect(violations.map(\.message) == [#"missing required property "x""#, #"missing required property "z""#])
        // Only objects are checked.
        #expect(try self.violations(#"{"required": ["x"]}"#, "[]").isEmpty)
    }

    @Test func pointersEscapeTildeAndSlash() throws {
        let violations = try self.violations(
            #"{"properties": {"a/b~c": {"items": {"properties": {"~/": {"type": "string"}}}}}}"#,
            #"{"a/b~c": [{}, {"~/": 1}]}"#
        )
        #expect(violations.map(\.instanceLocation) == ["/a~1b~0c/1/~0~1"])
        #expect(violations.map(\.keywordLocation) == ["/properties/a~1b~0c/items/properties/~0~1/type"])
        #expect(violations.map(\.description) == ["/a~1b~0c/1/~0~1: expected string, got integer"])
    }

    @Test func additionalPropertiesAppliesToWhatPropertiesAndPatternsLeave() throws {
        let schema = #"{"properties": {"a": {}}, "patternProperties": {"^x-": {"type": "string"}}, "additionalProperties": false}"#
        #expect(try self.violations(schema, #"{"a": 1, "x-b": "s"}"#).isEmpty)
        #expect(try self.violations(schema, #"{"a": 1, "x-b": 2, "c": 3}"#) == [
            SchemaViolation(instanceLocation: "/x-b", keywordLocation: "/patternProperties/^x-/type", message: "expected string, got integer"),
            SchemaViolation(instanceLocation: "/c", keywordLocation: "/additionalProperties", message: #"property "c" is not allowed"#),
        ])
        let typed = #"{"properties": {"a": {}}, "additionalProperties": {"type": "boolean"}}"#
        #expect(try self.violations(typed, #"{"a": 1, "b": true, "c": null}"#).map(\.instanceLocation) == ["/c"])
    }

    @Test func prefixItemsThenItems() throws {
        let schema = #"{"prefixItems": [{"type": "integer"}, {"type": "string"}], "items": false}"#
        #expect(try self.violations(schema, #"[1, "a"]"#).isEmpty)
        #expect(try self.violations(schema, "[1]").isEmpty)
        #expect(try self.violations(schema, #"["a", "b", 3]"#) == [
            SchemaViolation(instanceLocation: "/0", keywordLocation: "/prefixItems/0/type", message: "expected integer, got string"),
            SchemaViolation(instanceLocation: "/2", keywordLocation: "/items", message: "item 2 is not allowed"),
        ])
        #expect(try self.violations(#"{"items": {"minimum": 0}}"#, "[0, -1, 2, -3]").map(\.instanceLocation) == ["/1", "/3"])
        #expect(try self.violations(#"{"minItems": 2, "maxItems": 3}"#, "[1]").map(\.message) == ["must have at least 2 items, got 1"])
        #expect(try self.violations(#"{"minItems": 2, "maxItems": 3}"#, "[1, 2, 3, 4]").map(\.message) == ["must have at most 3 items, got 4"])
    }

    @Test func enumAndConstUseJSONSchemaEquality() throws {
        #expect(try self.violations(#"{"const": {"a": [1, {"b": null}]}}"#, #"{"a": [1.0, {"b": null}]}"#).isEmpty)
        #expect(try self.violations(#"{"const": 1}"#, "true").map(\.message) == ["must equal the schema's const value"])
        #expect(try self.violations(#"{"enum": ["a", 2, null]}"#, "2.0").isEmpty)
        #expect(try self.violations(#"{"enum": ["a", 2, null]}"#, "false").map(\.message) == ["must be one of the 3 values of the schema's enum"])
        #expect(try self.violations(#"{"const": 9007199254740992}"#, "9007199254740993").count == 1)
    }

    @Test func numericBoundsAreExact() throws {
        #expect(try self.violations(#"{"minimum": 1.5}"#, "1.4").map(\.message) == ["must be at least 1.5, got 1.4"])
        #expect(try self.violations(#"{"minimum": 1.5}"#, "1.5").isEmpty)
        #expect(try self.violations(#"{"exclusiveMinimum": 1.5}"#, "1.5").map(\.message) == ["must be greater than 1.5, got 1.5"])
        #expect(try self.violations(#"{"maximum": 3}"#, "3.0").isEmpty)
        #expect(try self.violations(#"{"maximum": 3}"#, "300e-2").isEmpty)
        #expect(try self.violations(#"{"exclusiveMaximum": 3}"#, "3").map(\.message) == ["must be less than 3, got 3"])
        // Equal as Doubles, yet above the maximum.
        #expect(try self.violations(#"{"maximum": 0.1}"#, "0.10000000000000001").count == 1)
        #expect(try self.violations(#"{"minimum": 0}"#, #""-1""#).isEmpty)
    }

    @Test func lengthsCountUnicodeCodePoints() throws {
        #expect(try self.violations(#"{"maxLength": 2}"#, #""😀é""#).isEmpty)
        #expect(try self.violations(#"{"minLength": 2}"#, #""😀""#).map(\.message) == ["must be at least 2 characters long, got 1"])
        // An e and a combining accent: one grapheme, two code points.
        #expect(try self.violations(#"{"maxLength": 1}"#, "\"e\\u0301\"").map(\.message) == ["must be at most 1 characters long, got 2"])
    }

    @Test func patternsAreUnanchoredECMAScriptLike() throws {
        #expect(try self.violations(#"{"pattern": "a+"}"#, #""xxaayy""#).isEmpty)
        #expect(try self.violations(#"{"pattern": "^a*$"}"#, #""abc""#).map(\.message) == [#"must match the pattern "^a*$""#])
        #expect(try self.violations(#"{"pattern": "^\\d+$"}"#, #""٣""#).count == 1)
        #expect(try self.violations(#"{"pattern": "^\\w$"}"#, #""é""#).count == 1)
        #expect(try self.violations(#"{"pattern": "^.$"}"#, #""😀""#).isEmpty)
        #expect(try self.violations(#"{"pattern": "^\\p{L}+$"}"#, #""héllo""#).isEmpty)
        // `$` does not match before a final newline.
        #expect(try self.violations(#"{"pattern": "^abc$"}"#, #""abc\n""#).count == 1)
    }

    @Test func formatIsAnAnnotationOnly() throws {
        #expect(try self.violations(#"{"format": "email", "title": "t", "description": "d", "$comment": "c", "default": 1, "examples": []}"#, #""not an email""#).isEmpty)
    }

    @Test func booleanSchemas() throws {
        #expect(try self.violations("true", "[1]").isEmpty)
        #expect(try self.violations("false", "null") == [SchemaViolation(instanceLocation: "", keywordLocation: "", message: "no value is allowed (the schema is false)")])
        #expect(try self.violations(#"{"properties": {"secret": false}}"#, #"{"secret": 1}"#).map(\.message) == [#"property "secret" is not allowed"#])
    }

    @Test func allOfAppliesEverySubschema() throws {
        let violations = try self.violations(#"{"allOf": [{"type": "integer"}, {"minimum": 5}]}"#, "4.5")
        #expect(violations.map(\.keywordLocation) == ["/allOf/0/type", "/allOf/1/minimum"])
    }

    @Test func violationsAreCapped() throws {
        let schema = try self.schema(#"{"items": {"type": "string"}}"#)
        let instance = try JSONValue(parsing: ByteBuffer(string: "[" + Array(repeating: "1", count: 100).joined(separator: ",") + "]"))
        #expect(schema.validate(instance).count == 16)
        #expect(schema.validate(instance, maxViolations: 3).map(\.instanceLocation) == ["/0", "/1", "/2"])
        #expect(!schema.isValid(instance))
    }

    @Test(arguments: [
        (##"{"$ref": "#/$defs/a", "$defs": {"a": {}}}"##, "$ref"),
        (#"{"properties": {"a": {"anyOf": [{}]}}}"#, "anyOf"),
        (#"{"multipleOf": 2}"#, "multipleOf"),
        (#"{"unevaluatedProperties": false}"#, "unevaluatedProperties"),
        (#"{"typo": 1}"#, "typo"),
    ])
    func anUnsupportedKeywordIsRefusedByName(schema: String, keyword: String) throws {
        let error = try #require(self.refusal(schema))
        #expect(error.keyword == keyword)
        #expect(error.description.hasPrefix("unsupported keyword \"\(keyword)\""))
    }

    @Test func theRefusalSaysWhere() throws {
        let error = try #require(self.refusal(#"{"properties": {"a/b": {"if": {}}}}"#))
        #expect(error.description.hasPrefix(#"unsupported keyword "if" at /properties/a~1b/if;"#))
    }

    @Test(arguments: [
        (#"{"type": "text"}"#, "type"),
        (#"{"type": []}"#, "type"),
        (#"{"type": ["string", "string"]}"#, "type"),
        (#"{"required": ["a", "a"]}"#, "required"),
        (#"{"required": "a"}"#, "required"),
        (#"{"minLength": -1}"#, "minLength"),
        (#"{"maxItems": 1.5}"#, "maxItems"),
        (#"{"minimum": "1"}"#, "minimum"),
        (#"{"pattern": "[a"}"#, "pattern"),
        (#"{"pattern": "(?<=a)b"}"#, "pattern"),
        (#"{"patternProperties": {"(": {}}}"#, "patternProperties"),
        (#"{"items": [{}]}"#, "items"),
        (#"{"prefixItems": []}"#, "prefixItems"),
        (#"{"enum": 1}"#, "enum"),
        (#"{"$schema": "http://json-schema.org/draft-07/schema#"}"#, "$schema"),
    ])
    func anInvalidKeywordValueIsRefused(schema: String, keyword: String) throws {
        let error = try #require(self.refusal(schema))
        #expect(error.keyword == keyword)
        #expect(error.description.hasPrefix("invalid \"\(keyword)\""))
    }

    @Test func aSchemaMustBeAnObjectOrABoolean() throws {
        #expect(self.refusal("1")?.description == "at the schema's root: a schema must be an object or a boolean")
        #expect(self.refusal(#"{"properties": {"a": []}}"#)?.description == "at /properties/a: a schema must be an object or a boolean")
        #expect(self.refusal("{")?.description.hasPrefix("the schema is not valid JSON") == true)
    }

    @Test func schemasAreBounded() throws {
        var limits = JSONSchema.Limits()
        limits.maxBytes = 10
        #expect(self.refusal(#"{"type": "string"}"#, limits: limits)?.description == "the schema is larger than 10 bytes")

        limits = JSONSchema.Limits()
        limits.maxDepth = 2
        #expect(try self.schema(#"{"items": {"items": {}}}"#, limits: limits).isValid(.array([])))
        #expect(self.refusal(#"{"items": {"items": {"items": {}}}}"#, limits: limits)?.description == "subschemas nested deeper than 2 levels at /items/items/items")

        limits = JSONSchema.Limits()
        limits.maxSubschemas = 3
        #expect(self.refusal(#"{"properties": {"a": {}, "b": {}, "c": {}}}"#, limits: limits)?.description == "the schema has more than 3 subschemas")

        limits = JSONSchema.Limits()
        limits.maxPatternLength = 4
        #expect(self.refusal(#"{"pattern": "^abcd$"}"#, limits: limits)?.keyword == "pattern")

        limits = JSONSchema.Limits()
        limits.maxJSONDepth = 3
        #expect(self.refusal(#"{"const": [[[1]]]}"#, limits: limits)?.description.hasPrefix("the schema is not valid JSON: JSON nested deeper than 3 levels") == true)
    }
}
