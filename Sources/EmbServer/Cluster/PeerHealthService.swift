// The peer health check as a Service of the node's ServiceGroup: every tick of its clock it checks
// the peers that are due (PeerHealth says when: 100 ms for a peer never seen, 500 ms otherwise), all
// at once, over the health links; it stops with the group (graceful shutdown or cancellation).
import ServiceLifecycle

struct PeerHealthService<C: Clock>: Service where C.Duration == Duration {
    let cluster: ClusterRouter
    let clock: C
    /// How often due peers are looked for (the shortest retry of PeerHealth).
    var tick: Duration = .milliseconds(100)

    func run() async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.cluster.checkDuePeers()
                try? await self.clock.sleep(for: self.tick)  // cancelled: the loop ends
            }
        }
    }
}
