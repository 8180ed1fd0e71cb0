// EMBED ... DIMENSIONS n and MEMBED DIMENSIONS n ... (DimensionsOption): the full lookup path, each
// vector cut to the width asked for (OutputWidth). Off the all-hit fast path: the cache holds full
// vectors, and a cut vector is a new buffer.
import EmbNode
import NIOCore

extension RESPConnectionHandler {
    func runCut(_ option: DimensionsOption, sequence: Int, context: ChannelHandlerContext) {
        guard self.authenticated else { return self.complete(sequence, Self.error("NOAUTH Authentication required.")) }
        self.server.metrics.request("resp", option.isBatch ? "membed" : "embed", caller: self.caller)
        if option.isBatch { self.burstCounts.batches += 1 } else { self.burstCounts.requests += 1 }
        var selection = self.selection
        if let name = option.model {
            guard let named = self.server.models.select(name) else {
                return self.complete(sequence, Self.error("ERR \(self.server.models.unknown(name))"))
            }
            selection = named
        }
        let width: OutputWidth?
        switch OutputWidth.resolve(option.dims, lane: selection.lane) {
        case .success(let resolved): width = resolved
        case .failure(let refusal): return self.complete(sequence, Self.error("ERR \(refusal.message)"))
        }
        let account = selection.lane.node.savings.account(selection.lane.accountName(for: self.caller))
        self.runLookup(option.texts.map { selection.prefix + Array($0.readableBytesView) }, reply: option.isBatch ? .vectors : .vector,
                       sequence: sequence, context: context, node: selection.lane.node, account: account, width: width)
    }
}
