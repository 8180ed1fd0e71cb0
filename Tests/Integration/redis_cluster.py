#!/usr/bin/env python3
"""A real Redis Cluster on loopback for the tests and Scripts/bench-hit: N masters + N×R replicas of
redis-server --cluster-enabled yes on free ports, joined with redis-cli --cluster create, in a temp
dir; every step bounded in time, every server stopped by PID.

As a program: `redis_cluster.py serve PORTS_FILE [MASTERS] [REPLICAS]` starts one, writes its ports
(one line, space-separated) to PORTS_FILE and runs until SIGTERM/SIGINT, then stops its servers."""
import os, random, shutil, signal, socket, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import stop, wait_port


def cli(port, *args, timeout=10, password=None):
    """redis-cli's output for one command to one server ('' when it fails or times out)."""
    login = ["-a", password, "--no-auth-warning"] if password else []
    try:
        return subprocess.run(["redis-cli", "-p", str(port), *login, *map(str, args)], capture_output=True, text=True, timeout=timeout).stdout.strip()
    except subprocess.TimeoutExpired:
        return ""


def free_cluster_port():
    """A free loopback port whose cluster bus port (+10000) is free too; Redis refuses ports above 55535."""
    for _ in range(200):
        port = random.randint(20000, 45000)
        try:
            for p in (port, port + 10000):
                s = socket.socket(); s.bind(("127.0.0.1", p)); s.close()
            return port
        except OSError:
            continue
    raise RuntimeError("no free port pair for a cluster node")


class ServerDidNotListen(RuntimeError):
    pass


class RedisCluster:
    def __init__(self, masters=3, replicas=1, node_timeout_ms=1500, password=None):
        self.password = password  # requirepass and masterauth on every server
        self.work = tempfile.mkdtemp(prefix="embcache-rcluster-")
        self.node_timeout_ms = node_timeout_ms
        self.masters, self.replicas = masters, replicas
        self.ports = self.pick_ports()
        self.procs = {}

    def pick_ports(self):
        """Free ports for every server (and their bus ports). Picked again by start(): the ports
        overlap the kernel's ephemeral range (32768-60999), so a port free when the object was made
        may be a client connection's by the time a test starts the cluster, minutes later."""
        ports = []
        while len(ports) < self.masters * (1 + self.replicas):
            p = free_cluster_port()
            if p not in ports and p + 10000 not in ports and p - 10000 not in ports:
                ports.append(p)
        return ports

    def start_server(self, port):
        d = os.path.join(self.work, str(port))
        os.makedirs(d, exist_ok=True)
        p = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", d, "--save", "", "--appendonly", "no",
                              "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                              "--cluster-node-timeout", str(self.node_timeout_ms),
                              # A replica fails over however long ago it last heard its master: a test
                              # kills masters seconds after the cluster formed.
                              "--cluster-replica-validity-factor", "0",
                              *(["--requirepass", self.password, "--masterauth", self.password] if self.password else [])],
                             stdout=open(os.path.join(d, "redis.log"), "a"), stderr=subprocess.STDOUT)
        self.procs[port] = p
        if not wait_port(port, 10):
            raise ServerDidNotListen(f"redis-server did not listen on {port}")
        return p

    def start(self, seconds=60, attempts=3):
        """Starts the servers on freshly picked ports, creates the cluster, and waits (bounded) until
        every node says cluster_state:ok. A server that does not listen (its port was taken between
        the pick and its bind) makes a new attempt on new ports, up to `attempts`. On failure, stops
        what it started and raises."""
        for attempt in range(attempts):
            self.ports = self.pick_ports()
            try:
                return self.create(seconds)
            except ServerDidNotListen:
                self.stop()
                if attempt + 1 == attempts:
                    raise
            except BaseException:
                self.stop()
                raise

    def create(self, seconds):
        for port in self.ports:
            self.start_server(port)
        login = ["-a", self.password, "--no-auth-warning"] if self.password else []
        out = subprocess.run(["redis-cli", *login, "--cluster", "create", *[f"127.0.0.1:{p}" for p in self.ports],
                              "--cluster-replicas", str(self.replicas), "--cluster-yes"], capture_output=True, text=True, timeout=seconds)
        if out.returncode != 0:
            raise RuntimeError("redis-cli --cluster create failed: " + out.stdout[-500:] + out.stderr[-500:])
        if not self.wait_ok(seconds):
            raise RuntimeError("the cluster did not reach cluster_state:ok")
        return self

    def wait_ok(self, seconds=30):
        """Waits (bounded) until every live server says cluster_state:ok, `masters` masters serve the
        slots, and every other live server is a replica whose link to its master is up (synced)."""
        end = time.time() + seconds
        while time.time() < end:
            live = self.live_ports()
            if all("cluster_state:ok" in self.cli(p, "CLUSTER", "INFO") for p in live) and self.master_count() == self.masters:
                replicas = [p for p in live if "role:slave" in self.cli(p, "INFO", "replication")]
                if len(replicas) == len(live) - self.masters and all("master_link_status:up" in self.cli(p, "INFO", "replication") for p in replicas):
                    return True
            time.sleep(0.2)
        return False

    def cli(self, port, *args):
        """redis-cli's output for one command to one of this cluster's servers, logged in."""
        return cli(port, *args, password=self.password)

    def live_ports(self):
        return [p for p, proc in self.procs.items() if proc.poll() is None]

    def nodes(self):
        """CLUSTER NODES from a live server: [{id, port, role, failed, slots}] (slots: count served)."""
        for port in self.live_ports():
            out = self.cli(port, "CLUSTER", "NODES")
            if not out:
                continue
            nodes = []
            for line in out.splitlines():
                f = line.split()
                slots = 0
                for r in f[8:]:
                    if r.startswith("["):
                        continue  # a slot being migrated or imported
                    a, _, b = r.partition("-")
                    slots += int(b or a) - int(a) + 1
                nodes.append({"id": f[0], "port": int(f[1].split("@")[0].split(":")[-1]), "role": "master" if "master" in f[2] else "replica",
                              "failed": "fail" in f[2] and "fail?" not in f[2], "master_id": f[3], "slots": slots})
            return nodes
        return []

    def master_ports(self):
        return [n["port"] for n in self.nodes() if n["role"] == "master" and not n["failed"] and n["slots"] > 0]

    def master_count(self):
        return len(self.master_ports())

    def node_id(self, port):
        return next(n["id"] for n in self.nodes() if n["port"] == port)

    def kill(self, port):
        """SIGKILL: a crash, not a shutdown."""
        stop(self.procs[port])

    def restart(self, port):
        """Starts a killed server again on its port and config (it rejoins, as a replica if it lost its slots)."""
        return self.start_server(port)

    def reshard(self, from_port, to_port, slots, seconds=120):
        """Moves `slots` slots (and their keys) with redis-cli --cluster reshard; its result."""
        login = ["-a", self.password, "--no-auth-warning"] if self.password else []
        return subprocess.run(["redis-cli", *login, "--cluster", "reshard", f"127.0.0.1:{from_port}", "--cluster-from", self.node_id(from_port),
                               "--cluster-to", self.node_id(to_port), "--cluster-slots", str(slots), "--cluster-yes"],
                              capture_output=True, text=True, timeout=seconds)

    def keys_per_master(self):
        return {p: int(self.cli(p, "DBSIZE") or 0) for p in self.master_ports()}

    def stop(self):
        for p in self.procs.values():
            stop(p)
        self.procs = {}
        shutil.rmtree(self.work, ignore_errors=True)


if __name__ == "__main__" and len(sys.argv) >= 3 and sys.argv[1] == "serve":
    cluster = RedisCluster(int(sys.argv[3]) if len(sys.argv) > 3 else 3, int(sys.argv[4]) if len(sys.argv) > 4 else 1)
    done = []
    signal.signal(signal.SIGTERM, lambda *_: done.append(1))
    signal.signal(signal.SIGINT, lambda *_: done.append(1))
    try:
        cluster.start()
        open(sys.argv[2], "w").write(" ".join(map(str, cluster.ports)) + "\n")
        while not done:
            time.sleep(0.2)
    finally:
        cluster.stop()
