// What BertNormalizer and BertPreTokenizer do to one Unicode scalar, decoded once from the generated
// UnicodeTables into lookup structures (binary search over ranges; a dictionary for the rare
// multi-scalar mappings). The ASCII cases never reach here: BertTokenizer handles them with two
// 128-entry tables.

/// The normalizer's verdict on one non-ASCII scalar.
enum ScalarAction {
    /// Control, format, unassigned, private use, U+FFFD...: dropped.
    case remove
    /// A whitespace kind: ends the current word.
    case whitespace
    /// A CJK ideograph: a word of its own.
    case isolate
    /// Replaced by these scalars (lowercased and/or decomposed with accents stripped).
    case map(Unicode.Scalar, Unicode.Scalar?, Unicode.Scalar?)
    /// Replaced by a longer sequence (rare).
    case mapMany([Unicode.Scalar])
    /// Kept as it is.
    case keep
}

struct NormalizationTables: Sendable {
    private let removed: [ClosedRange<UInt32>]
    private let whitespace: [ClosedRange<UInt32>]
    private let cjk: [ClosedRange<UInt32>]
    private let punctuation: [ClosedRange<UInt32>]
    /// What a cased normalizer (no lowercasing, no accent stripping) removes and isolates.
    private let removedCased: [ClosedRange<UInt32>]
    private let cjkCased: [ClosedRange<UInt32>]
    /// (first, last, delta): scalars first...last map to scalar + delta.
    private let caseRuns: [(first: UInt32, last: UInt32, delta: Int32)]
    private let multi: [UInt32: [Unicode.Scalar]]
    /// Per ASCII byte: 0 remove, 1 whitespace, 2 keep, 3 lowercase.
    let asciiAction: [UInt8]
    /// Per ASCII byte: 1 when BertPreTokenizer isolates it as punctuation.
    let asciiPunctuation: [Bool]

    static let shared = NormalizationTables()

    private init() {
        func ranges(_ s: String) -> [ClosedRange<UInt32>] {
            s.split(whereSeparator: { $0 == " " || $0 == "\n" }).map { item in
                let parts = item.split(separator: "-")
                return UInt32(parts[0], radix: 16)!...UInt32(parts[1], radix: 16)!
            }
        }
        self.removed = ranges(UnicodeTables.removed)
        self.whitespace = ranges(UnicodeTables.whitespace)
        self.cjk = ranges(UnicodeTables.cjk)
        self.punctuation = ranges(UnicodeTables.punctuation)
        self.removedCased = ranges(UnicodeTables.removedCased)
        self.cjkCased = ranges(UnicodeTables.cjkCased)
        self.caseRuns = UnicodeTables.caseRuns.split(whereSeparator: { $0 == " " || $0 == "\n" }).map { item in
            let p = item.split(separator: ":")
            let first = UInt32(p[0], radix: 16)!
            return (first, first + UInt32(p[1], radix: 16)! - 1, Int32(p[2])!)
        }
        var multi: [UInt32: [Unicode.Scalar]] = [:]
        for item in UnicodeTables.multi.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            let p = item.split(separator: ":")
            multi[UInt32(p[0], radix: 16)!] = p[1].split(separator: ",").map { Unicode.Scalar(UInt32($0, radix: 16)!)! }
        }
        self.multi = multi
        self.asciiAction = UnicodeTables.asciiNormalization.utf8.map { c -> UInt8 in
            switch c {
            case UInt8(ascii: "-"): return 0
            case UInt8(ascii: "_"): return 1
            case UInt8(ascii: "="): return 2
            default: return 3
            }
        }
        self.asciiPunctuation = UnicodeTables.asciiPunctuation.utf8.map { $0 == UInt8(ascii: "P") }
        precondition(self.asciiAction.count == 128 && self.asciiPunctuation.count == 128, "UnicodeTables is corrupt")
    }

    /// What a cased normalizer does to `s` (not ASCII): it only cleans, splits on whitespace and
    /// isolates CJK; everything else is kept as it is.
    func casedAction(_ s: Unicode.Scalar) -> ScalarAction {
        let v = s.value
        if Self.contains(self.removedCased, v) { return .remove }
        if Self.contains(self.whitespace, v) { return .whitespace }
        if Self.contains(self.cjkCased, v) { return .isolate }
        return .keep
    }

    /// What the (uncased) normalizer does to `s` (not ASCII).
    func action(_ s: Unicode.Scalar) -> ScalarAction {
        let v = s.value
        if Self.contains(self.removed, v) { return .remove }
        if Self.contains(self.whitespace, v) { return .whitespace }
        if Self.contains(self.cjk, v) { return .isolate }
        if (0xAC00...0xD7A3).contains(v) {
            // Hangul syllables decompose algorithmically into 2 or 3 jamo (Unicode §3.12); none is a mark.
            let index = v - 0xAC00
            let l = Unicode.Scalar(0x1100 + index / 588)!
            let vowel = Unicode.Scalar(0x1161 + (index % 588) / 28)!
            let t = index % 28
            return .map(l, vowel, t == 0 ? nil : Unicode.Scalar(0x11A7 + t)!)
        }
        if let run = Self.find(self.caseRuns, v) {
            return .map(Unicode.Scalar(UInt32(Int32(bitPattern: v) + run.delta))!, nil, nil)
        }
        if let many = self.multi[v] { return .mapMany(many) }
        return .keep
    }

    /// Whether BertPreTokenizer isolates `s` (non-ASCII) as punctuation.
    func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        Self.contains(self.punctuation, s.value)
    }

    private static func contains(_ ranges: [ClosedRange<UInt32>], _ v: UInt32) -> Bool {
        var lo = 0
        var hi = ranges.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ranges[mid].upperBound < v { lo = mid + 1 } else { hi = mid }
        }
        return lo < ranges.count && ranges[lo].contains(v)
    }

    private static func find(_ runs: [(first: UInt32, last: UInt32, delta: Int32)], _ v: UInt32) -> (first: UInt32, last: UInt32, delta: Int32)? {
        var lo = 0
        var hi = runs.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if runs[mid].last < v { lo = mid + 1 } else { hi = mid }
        }
        return lo < runs.count && runs[lo].first <= v ? runs[lo] : nil
    }
}
