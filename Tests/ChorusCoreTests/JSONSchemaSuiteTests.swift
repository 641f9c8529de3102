import ChorusCore
import Foundation
import NIOCore
import Testing

/// The official JSON-Schema-Test-Suite (draft 2020-12) for every keyword `JSONSchema` supports.
///
/// The suite is not in the repository: `scripts/fetch-json-schema-suite` unpacks it from the
/// `jsonschema` PyPI source distribution and prints the folder; `scripts/test` sets
/// `CHORUS_JSON_SCHEMA_SUITE` to it. A case whose schema also uses an unsupported keyword must be
/// refused when compiled; those are counted per file and pinned below, every other case must pass.
@Suite(
    .enabled(
        if: ProcessInfo.processInfo.environment["CHORUS_JSON_SCHEMA_SUITE"] != nil,
        "set CHORUS_JSON_SCHEMA_SUITE=$(scripts/fetch-json-schema-suite) to run the official suite (scripts/test does)"
    )
)
struct JSONSchemaSuiteTests {
    /// The suite's files for the supported keywords, with how many of their cases are refused
    /// because their schemas combine the keyword with one Chorus does not support.
    static let files: [String: Int] = [
        "type": 0, "required": 0, "properties": 0,
        // propertyNames (2 cases), dependentSchemas (3).
        "additionalProperties": 5,
        // $ref and $defs (6).
        "items": 6,
        "prefixItems": 0, "enum": 0, "const": 0, "minimum": 0, "maximum": 0, "exclusiveMinimum": 0,
        "exclusiveMaximum": 0, "minLength": 0, "maxLength": 0, "pattern": 0, "format": 0, "boolean_schema": 0,
        "patternProperties": 0, "minItems": 0, "maxItems": 0,
        // anyOf, oneOf and multipleOf (8).
        "allOf": 8,
    ]

    /// Keywords that cases may be refused for: any other refusal is a failure.
    static let unsupported: Set<String> = ["$ref", "$defs", "propertyNames", "dependentSchemas", "anyOf", "oneOf", "multipleOf"]

    @Test(arguments: Self.files.keys.sorted())
    func everyCaseOfTheKeywordsFilePasses(file: String) throws {
        let folder = try #require(ProcessInfo.processInfo.environment["CHORUS_JSON_SCHEMA_SUITE"])
        let path = "\(folder)/\(file).json"
        // Set but missing is a broken setup, not a reason to skip.
        let contents = try #require(FileManager.default.contents(atPath: path), "no \(path): is CHORUS_JSON_SCHEMA_SUITE the suite's draft2020-12 folder?")
        guard case .array(let groups) = try JSONValue(parsing: ByteBuffer(bytes: contents), maxDepth: 256) else {
            Issue.record("\(path) is not an array of test groups")
            return
        }
        var run = 0
        var refused = 0
        for case .object(let group) in groups {
            guard case .array(let cases)? = group["tests"], let schemaDocument = group["schema"], case .string(let name)? = group["description"] else {
                Issue.record("\(path): a group without schema, description or tests")
                continue
            }
            let schema: JSONSchema
            do {
                schema = try JSONSchema(schemaDocument)
            } catch {
                #expect(error.keyword.map(Self.unsupported.contains) == true, "\(file): \(name): refused: \(error)")
                refused += cases.count
                continue
            }
            for case .object(let testCase) in cases {
                guard let data = testCase["data"], case .bool(let valid)? = testCase["valid"], case .string(let description)? = testCase["description"] else {
                    Issue.record("\(path): \(name): a case without data, valid or description")
                    continue
                }
                let violations = schema.validate(data)
                #expect(violations.isEmpty == valid, "\(file): \(name): \(description): \(violations)")
                run += 1
            }
        }
        print("JSON-Schema-Test-Suite \(file).json: \(run) cases run, \(refused) refused at compile")
        #expect(refused == Self.files[file])
        #expect(run > 0)
    }
}
