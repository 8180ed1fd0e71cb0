import EmbTokenizer
import Foundation
import Testing

@Suite struct BertTokenizerTests {
    let tokenizer: BertTokenizer

    init() throws {
        self.tokenizer = try BertTokenizer(vocabularyFile: TestData.vocabulary)
    }

    @Test func everyReferenceTextGetsHuggingFacesIDs() throws {
        let cases = try TestData.cases(TestData.reference)
        #expect(cases.count == 420)
        var mismatches: [String] = []
        for c in cases where self.tokenizer.encode(c.text) != c.input_ids {
            mismatches.append(c.text)
        }
        #expect(mismatches.isEmpty, "mismatched texts: \(mismatches.prefix(5))")
    }

    @Test func everyHardCaseGetsHuggingFacesIDs() throws {
        let cases = try TestData.cases(TestData.hardCases)
        #expect(cases.count >= 150)
        for c in cases {
            let ids = self.tokenizer.encode(c.text)
            #expect(ids == c.input_ids, "text: \(c.text.debugDescription)")
        }
    }

    /// A cased model's tokenizer (no lowercasing, no accent stripping): Hugging Face's ids for the
    /// public texts, the hard cases and a few case/accent/compatibility-ideograph texts.
    @Test func aCasedTokenizerGetsHuggingFacesCasedIDs() throws {
        let cased = try BertTokenizer(vocabularyText: String(contentsOfFile: TestData.vocabulary, encoding: .utf8), lowercase: false)
        let cases = try TestData.cases(TestData.root + "/Tests/EmbTokenizerTests/Fixtures/cased_ids.jsonl")
        #expect(cases.count > 570)
        var mismatches: [String] = []
        for c in cases where cased.encode(c.text) != c.input_ids { mismatches.append(c.text) }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatched texts: \(mismatches.prefix(5).map(\.debugDescription))")
        // And it is not the uncased tokenizer: case and accents change the ids.
        #expect(cased.encode("Crème") != self.tokenizer.encode("Crème"))
        #expect(cased.encode("creme") == self.tokenizer.encode("Crème"))
    }

    @Test func specialIDsComeFromTheVocabulary() {
        #expect(self.tokenizer.clsID == 101)
        #expect(self.tokenizer.sepID == 102)
        #expect(self.tokenizer.padID == 0)
        #expect(self.tokenizer.unkID == 100)
        #expect(self.tokenizer.vocabularySize == 30522)
    }

    @Test func emptyTextIsClsThenSep() {
        #expect(self.tokenizer.encode("") == [101, 102])
    }

    @Test func textsTheModelCannotTellApartGetTheSameIDs() {
        #expect(self.tokenizer.encode("Hello  World") == self.tokenizer.encode("hello world"))
    }

    @Test func truncationKeepsAtMostTheRequestedTokens() {
        let long = String(repeating: "word ", count: 1000)
        let ids = self.tokenizer.encode(long)
        #expect(ids.count == 256)
        #expect(ids.first == 101 && ids.last == 102)
        #expect(self.tokenizer.encode(long, maxTokens: 8).count == 8)
    }

    @Test func invalidUTF8IsRefused() {
        for bad: [UInt8] in [[0xFF], [0xC3], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xF4, 0x90, 0x80, 0x80], [0x61, 0x80]] {
            let ids = bad.withUnsafeBytes { self.tokenizer.encode(utf8: $0) }
            #expect(ids == nil, "bytes \(bad)")
        }
        let ok = Array("héllo".utf8).withUnsafeBytes { self.tokenizer.encode(utf8: $0) }
        #expect(ok == self.tokenizer.encode("héllo"))
    }

    /// Found by Scripts/fuzz: a special token right after the budget ran out was still appended, and a
    /// word that became [UNK] after some pieces matched refunded budget it had not been charged, so
    /// long texts got 257 or 258 ids where Hugging Face truncates to 256.
    @Test func truncationNeverExceedsTheBudgetAndMatchesHuggingFace() throws {
        let cases = try TestData.cases(TestData.fuzzFound)
        #expect(cases.count == 3)
        for c in cases {
            let ids = self.tokenizer.encode(c.text)
            #expect(ids.count == 256)
            #expect(ids == c.input_ids, "\(c.text.prefix(40))…")
        }
        #expect(self.tokenizer.encode(String(repeating: "[CLS] ", count: 300)).count == 256)
    }

    /// Found by Scripts/fuzz: truncation at 256 tokens stopped the scan before an invalid byte, and the
    /// text was keyed and embedded. Invalid UTF-8 anywhere is refused, whatever is kept.
    @Test func invalidUTF8PastTheTruncationPointIsRefused() {
        let long = Array(String(repeating: "word ", count: 400).utf8)
        for tail: [UInt8] in [[0xFF], [0xC4, 0x41], [0xED, 0xA0, 0x80], [0xE2, 0x82]] {
            let ids = (long + tail).withUnsafeBytes { self.tokenizer.encode(utf8: $0) }
            #expect(ids == nil, "tail \(tail)")
        }
        let valid = (long + Array("café ✓".utf8)).withUnsafeBytes { self.tokenizer.encode(utf8: $0) }
        #expect(valid?.count == 256)
    }

    @Test func aMissingVocabularyFileSaysHowToFetchIt() {
        #expect(throws: TokenizerError.self) { try BertTokenizer(vocabularyFile: "/nonexistent/vocab.txt") }
        do {
            _ = try BertTokenizer(vocabularyFile: "/nonexistent/vocab.txt")
        } catch let error as TokenizerError {
            #expect(error.code == .missingFile)
            #expect(error.message.contains("Scripts/fetch-model"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func aVocabularyWithoutSpecialTokensIsRefused() {
        do {
            _ = try BertTokenizer(vocabularyText: "hello\nworld\n")
            Issue.record("accepted a vocabulary without [CLS]")
        } catch let error as TokenizerError {
            #expect(error.code == .badVocabulary)
        } catch {
            Issue.record("unexpected error \(error)")
        }
        #expect(throws: TokenizerError.self) { try BertTokenizer(vocabularyText: "") }
    }
}
