// The health thread's work in cluster mode: fetching slot maps. Asked for by the router (a MOVED, a
// failing node) at most every `restInterval`, by age, and, while L2 is marked down, on the backoff
// schedule. L2 is up while some node answers CLUSTER SLOTS with at least one slot served.

extension RedisL2 {
    /// Fetches and installs a map when one is due; marks L2 up or down by the outcome.
    func refreshSlotMap(_ slots: SlotRouter, down due: Bool) {
        let up = self.state.withLock { $0.up }
        guard up ? slots.takeRefreshDue() : due else { return }
        var problem = "no node answered"
        var fetched: SlotMap? = nil
        for node in slots.refreshCandidates {
            guard let connection = self.connect(to: node) else { continue }
            guard let reply = connection.command([Array("CLUSTER".utf8), Array("SLOTS".utf8)]) else { continue }
            do {
                let map = try SlotMap.parse(clusterSlots: reply, askedNode: node)
                if map.coveredSlots > 0 {
                    fetched = map
                    break
                }
                problem = "\(node) serves no slots (cluster not yet created?)"
            } catch {
                problem = "\(node): \(error)"
            }
        }
        self.reportMapProblem(fetched == nil ? problem : nil)
        guard let map = fetched else {
            slots.refreshFailed()
            if up { self.markDown() } else { self.backOff() }
            return
        }
        slots.install(map)
        guard !up else { return }
        self.state.withLock { s in
            s.up = true
            s.stats.reconnects += 1
        }
        self.logger.info("redis cluster available", metadata: ["redis.masters": "\(map.masters.count)", "redis.slots": "\(map.coveredSlots)"])
        self.wakeWriter()
    }

    /// Logs a map that cannot be had (a seed that is not a cluster node, say) once per distinct problem.
    private func reportMapProblem(_ problem: String?) {
        let changed = self.state.withLock { s -> Bool in
            defer { s.lastMapProblem = problem }
            return s.lastMapProblem != problem
        }
        if changed, let problem { self.logger.error("redis cluster: no slot map", metadata: ["redis.error": "\(problem)"]) }
    }
}
