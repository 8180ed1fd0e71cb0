// The byte scan of BertTokenizer: special tokens, normalization and pre-tokenization in one pass.

extension BertTokenizer {
    /// Scans `bytes`, appending word-piece ids to `state`. False on invalid UTF-8.
    func run(_ bytes: UnsafeRawBufferPointer, _ state: inout EncodeState) -> Bool {
        let p = bytes.bindMemory(to: UInt8.self)
        let n = p.count
        var i = 0
        while i < n && state.budget > 0 {
            let b = p[i]
            if b < 0x80 {
                if self.mayStartSpecial(b), let (length, id) = self.specialToken(p, at: i) ?? self.normalizedToken(p, at: i) {
                    self.flushWord(&state)
                    if state.budget > 0 {  // the word just flushed may have used the last of it
                        state.ids.append(id)
                        state.budget -= 1
                    }
                    i += length
                    continue
                }
                switch self.tables.asciiAction[Int(b)] {
                case 0: break
                case 1: self.flushWord(&state)
                case 2: self.appendASCII(b, &state)
                default: self.appendASCII(self.lowercase ? b | 0x20 : b, &state)
                }
                i += 1
                continue
            }
            guard let (scalar, length) = Self.decodeScalar(p, at: i) else { return false }
            i += length
            switch self.lowercase ? self.tables.action(scalar) : self.tables.casedAction(scalar) {
            case .remove: break
            case .whitespace: self.flushWord(&state)
            case .isolate:
                self.flushWord(&state)
                Self.appendUTF8(scalar, &state)
                self.flushWord(&state)
            case .map(let a, let b, let c):
                self.appendScalar(a, &state)
                if let b { self.appendScalar(b, &state) }
                if let c { self.appendScalar(c, &state) }
            case .mapMany(let many):
                for s in many { self.appendScalar(s, &state) }
            case .keep: self.appendScalar(scalar, &state)
            }
        }
        self.flushWord(&state)
        // Truncation stops the scan, not the validation: a text whose tail past the last token kept is
        // not UTF-8 is refused like any other (found by Scripts/fuzz tokenizer; regression input in
        // Tests/Fuzz/corpus/tokenizer/crash-invalid-utf8-after-truncation).
        while i < n {
            if p[i] < 0x80 { i += 1; continue }
            guard let (_, length) = Self.decodeScalar(p, at: i) else { return false }
            i += length
        }
        return true
    }

    /// An added token ("[CLS]", "<s>" etc.) starting at `i`, matched case-sensitively in the raw text.
    @inline(__always)
    private func specialToken(_ p: UnsafeBufferPointer<UInt8>, at i: Int) -> (Int, Int32)? {
        for (token, id) in self.specialTokens where i + token.count <= p.count {
            var match = true
            for j in 0..<token.count where p[i + j] != token[j] {
                match = false
                break
            }
            if match { return (token.count, id) }
        }
        return nil
    }

    @inline(__always)
    private func appendASCII(_ b: UInt8, _ state: inout EncodeState) {
        if self.tables.asciiPunctuation[Int(b)] {
            self.flushWord(&state)
            state.word.append(b)
            state.wordCharacters = 1
            self.flushWord(&state)
        } else {
            state.word.append(b)
            state.wordCharacters += 1
        }
    }

    /// Appends a normalized scalar: punctuation becomes a word of its own.
    private func appendScalar(_ s: Unicode.Scalar, _ state: inout EncodeState) {
        if s.value < 0x80 {
            self.appendASCII(UInt8(s.value), &state)
        } else if self.tables.isPunctuation(s) {
            self.flushWord(&state)
            Self.appendUTF8(s, &state)
            self.flushWord(&state)
        } else {
            Self.appendUTF8(s, &state)
        }
    }

    private static func appendUTF8(_ s: Unicode.Scalar, _ state: inout EncodeState) {
        UTF8.encode(s) { state.word.append($0) }
        state.wordCharacters += 1
    }

    /// Ends the current word: its word-pieces go to `state.ids`, within the truncation budget.
    @inline(__always)
    func flushWord(_ state: inout EncodeState) {
        guard !state.word.isEmpty else { return }
        self.appendWordPieces(&state)
        state.word.removeAll(keepingCapacity: true)
        state.wordCharacters = 0
    }

    /// One scalar of valid UTF-8 at `i` (shortest form, no surrogates, ≤ U+10FFFF), or nil.
    @inline(__always)
    static func decodeScalar(_ p: UnsafeBufferPointer<UInt8>, at i: Int) -> (Unicode.Scalar, Int)? {
        let b0 = UInt32(p[i])
        func cont(_ k: Int) -> UInt32? {
            guard i + k < p.count, p[i + k] & 0xC0 == 0x80 else { return nil }
            return UInt32(p[i + k] & 0x3F)
        }
        var value: UInt32
        let length: Int
        if b0 & 0xE0 == 0xC0 {
            guard let c1 = cont(1) else { return nil }
            value = (b0 & 0x1F) << 6 | c1
            length = 2
            guard value >= 0x80 else { return nil }
        } else if b0 & 0xF0 == 0xE0 {
            guard let c1 = cont(1), let c2 = cont(2) else { return nil }
            value = (b0 & 0x0F) << 12 | c1 << 6 | c2
            length = 3
            guard value >= 0x800 else { return nil }
        } else if b0 & 0xF8 == 0xF0 {
            guard let c1 = cont(1), let c2 = cont(2), let c3 = cont(3) else { return nil }
            value = (b0 & 0x07) << 18 | c1 << 12 | c2 << 6 | c3
            length = 4
            guard value >= 0x10000 else { return nil }
        } else {
            return nil
        }
        guard let scalar = Unicode.Scalar(value) else { return nil }  // surrogates and > U+10FFFF
        return (scalar, length)
    }
}
