// The cluster file's Redis address (EmbCluster) as the login EmbRedis sends; EmbCluster does not
// depend on EmbRedis, so the bridge lives here, where both are known.
import EmbCluster
import EmbRedis

extension ClusterFile.RedisAddress {
    /// The login to send with AUTH on every link to this Redis (hiredis threads and event-loop links).
    var credentials: RedisCredentials? {
        self.password.map { RedisCredentials(username: self.username, password: $0.reveal) }
    }
}
