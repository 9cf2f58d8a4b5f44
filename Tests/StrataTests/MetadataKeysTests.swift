import Foundation
import Testing
@testable import Strata

/// The export's pre-test of metadata keys never hides a member a path lookup would find.
@Suite struct MetadataKeysTests {
    static func may(_ json: String, _ key: String) -> Bool {
        Array(json.utf8).withUnsafeBytes { MetadataKeys.mayContain($0, Array(key.utf8)) }
    }

    static func found(_ json: String, _ path: [String]) -> Bool {
        Array(json.utf8).withUnsafeBytes { JSONPathLookup.value(in: $0, path: path.map { Array($0.utf8) }[...]) != .missing }
    }

    @Test func anAbsentKeyIsRuledOutAndAPresentOneIsNot() {
        #expect(!Self.may(#"{"a":1,"b":{"c":"x"}}"#, "conversation_id"))
        #expect(Self.may(#"{"a":1,"conversation_id":"c1"}"#, "conversation_id"))
        #expect(Self.may(#"{"_extra":{"conversation_id":7}}"#, "conversation_id"))
        #expect(!Self.may("", "quality_tier"))
        #expect(!Self.may("{}", "a_key_longer_than_the_text"))
    }

    @Test func aKeySpelledWithEscapesIsNeverRuledOut() {
        let json = #"{"\u0073caffolding":{"persona_key":"p"}}"#
        #expect(Self.found(json, ["scaffolding", "persona_key"]))
        #expect(Self.may(json, "scaffolding"))
    }

    @Test func whateverIsRuledOutALookupDoesNotFind() {
        let texts = [#"{"quality_tier":"gold"}"#, #"{"x":"quality_tier"}"#, #"{"quality_tie":1,"source_fil":2}"#,
                     #"{"a":[{"source_file":"f"}]}"#, #"{"s":"\"quote\""}"#, #"{"scaffolding":{"persona_key":"k"}}"#, "{}"]
        for t in texts {
            for key in ["quality_tier", "source_file", "scaffolding", "conversation_id"] where !Self.may(t, key) {
                #expect(!Self.found(t, [key]), "\(t) \(key)")
                #expect(!Self.found(t, [key, "persona_key"]), "\(t) \(key)")
            }
        }
    }
}
