// WordPiece (Schuster & Nakajima 2012, as in BERT and Hugging Face's models/wordpiece): split a word
// into the longest vocabulary prefix, then the longest "##" continuation of the rest, and so on. A word
// with a rest that matches nothing becomes a single [UNK], as does a word of more than 100 characters.

extension BertTokenizer {
    /// Appends the word-pieces of `state.word` to `state.ids` (at most `state.budget` of them).
    func appendWordPieces(_ state: inout EncodeState) {
        let word = state.word
        if state.wordCharacters > Self.maxWordCharacters {
            self.append(self.unkID, &state)
            return
        }
        let firstID = state.ids.count
        var start = 0
        while start < word.count {
            var end = word.count
            var found: Int32? = nil
            while start < end {
                if let id = self.vocabulary.id(of: word[start..<end], continuation: start > 0) {
                    found = id
                    break
                }
                // Back up one character: skip UTF-8 continuation bytes.
                end -= 1
                while end > start && word[end] & 0xC0 == 0x80 { end -= 1 }
            }
            guard let id = found else {
                // The pieces found so far were not charged to the budget yet (that happens below).
                state.ids.removeSubrange(firstID...)
                self.append(self.unkID, &state)
                return
            }
            state.ids.append(id)
            start = end
        }
        // Truncation keeps the first pieces of a word that does not fit.
        let added = state.ids.count - firstID
        if added > state.budget { state.ids.removeSubrange((firstID + state.budget)...) }
        state.budget -= min(added, state.budget)
    }

    @inline(__always)
    private func append(_ id: Int32, _ state: inout EncodeState) {
        guard state.budget > 0 else { return }
        state.ids.append(id)
        state.budget -= 1
    }
}
