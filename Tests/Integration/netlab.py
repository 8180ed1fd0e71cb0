"""A small network lab for fault tests: network namespaces the test creates, joined by veth pairs to
a bridge in a namespace of its own, nftables rules inside them, and threads that run inside one.

Every namespace is named `ecnf<pid>-<role>` (the test's own PID), so only namespaces this process
made are ever touched; `Lab.close()` deletes them (their veths go with them) and stops every process
it started by PID. It runs from try/finally, atexit and SIGTERM, and is safe to call twice.
Addresses (10.213.0.0/24) exist only inside these namespaces."""
import atexit, ctypes, os, signal, subprocess, threading, time

CLONE_NEWNET = 0x40000000
SUBNET = "10.213.0"
_libc = ctypes.CDLL(None, use_errno=True)


def sh(*args, check=True, timeout=10):
    """Runs one command (a list of words), bounded in time; raises with its stderr when it fails."""
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {r.stderr.strip()}")
    return r


def can_create_namespaces():
    """(True, "") when this process may make network namespaces; else (False, why)."""
    if os.geteuid() != 0:
        return False, "network namespaces need root (ip netns add); this test runs as uid %d" % os.geteuid()
    probe = f"ecnf{os.getpid()}-probe"
    r = sh("ip", "netns", "add", probe, check=False)
    if r.returncode != 0:
        return False, f"ip netns add failed as root: {r.stderr.strip()}"
    sh("ip", "netns", "del", probe, check=False)
    return True, ""


def sweep_stale():
    """Deletes namespaces an earlier run of these tests left behind when it was killed (-9: no
    cleanup ran): only `ecnf<pid>-*` names, and only when that PID no longer runs."""
    for line in sh("ip", "netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        pid = name[4:].split("-")[0] if name.startswith("ecnf") else ""
        if pid.isdigit() and int(pid) != os.getpid() and not os.path.exists(f"/proc/{pid}"):
            sh("ip", "netns", "del", name, check=False)


class InNamespace:
    """Moves the calling thread (only it: setns is per thread) into a namespace and back. Sockets
    made inside stay in that namespace for their whole life, whichever thread uses them later."""

    def __init__(self, ns):
        self.ns = ns

    def __enter__(self):
        self.home = os.open(f"/proc/thread-self/ns/net", os.O_RDONLY)
        fd = os.open(f"/run/netns/{self.ns}", os.O_RDONLY)
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns {self.ns}")
        finally:
            os.close(fd)
        return self

    def __exit__(self, *exc):
        _libc.setns(self.home, CLONE_NEWNET)
        os.close(self.home)


class Lab:
    """The namespaces, their addresses, the processes started in them and the rules applied."""

    def __init__(self):
        self.prefix = f"ecnf{os.getpid()}"
        self.hub = f"{self.prefix}-hub"
        self.hosts = {}      # role -> (namespace, address)
        self.procs = []      # Popen of everything started, stopped by PID
        self.closed = False
        atexit.register(self.close)
        # `timeout` (Scripts/test) ends a test with SIGTERM, which skips atexit: clean up, then exit.
        signal.signal(signal.SIGTERM, lambda *_: (self.close(), os._exit(143)))
        sweep_stale()
        sh("ip", "netns", "add", self.hub)
        sh("ip", "-n", self.hub, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", self.hub, "link", "set", "br0", "up")
        sh("ip", "-n", self.hub, "link", "set", "lo", "up")

    def add_host(self, role):
        """A namespace with one veth into the bridge and the next address; returns the address."""
        ns, addr = f"{self.prefix}-{role}", f"{SUBNET}.{len(self.hosts) + 1}"
        sh("ip", "netns", "add", ns)
        self.hosts[role] = (ns, addr)
        port = f"p{len(self.hosts)}"
        sh("ip", "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", port, "netns", self.hub)
        sh("ip", "-n", self.hub, "link", "set", port, "master", "br0", "up")
        sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        # Our own chains, empty until a fault fills them: filter (cuts, drops, resets) and nat
        # (steering one peer's traffic through the fault proxy).
        self.nft(role, "add table inet lab")
        self.nft(role, "add chain inet lab in { type filter hook input priority 0; }")
        self.nft(role, "add chain inet lab out { type filter hook output priority 0; }")
        self.nft(role, "add table ip labnat")
        self.nft(role, "add chain ip labnat out { type nat hook output priority -100; }")
        return addr

    def ns(self, role):
        return self.hosts[role][0]

    def addr(self, role):
        return self.hosts[role][1]

    def nft(self, role, rule):
        sh("ip", "netns", "exec", self.ns(role), "nft", *rule.split())

    def heal(self, role):
        """Removes every filter rule of `role` (the chains stay, empty; the NAT steering stays)."""
        for chain in ("inet lab in", "inet lab out"):
            self.nft(role, f"flush chain {chain}")

    def heal_all(self):
        for role in self.hosts:
            self.heal(role)

    def start(self, role, argv, log_path, env=None):
        """Starts a process inside `role`'s namespace (`ip netns exec` execs it: the PID is its own)."""
        log = open(log_path, "a")
        p = subprocess.Popen(["ip", "netns", "exec", self.ns(role), *argv], stdout=log, stderr=log, env=env)
        self.procs.append(p)
        return p

    def wait_port(self, role, host, port, seconds=60):
        """Waits until `host:port` accepts a connection seen from `role`'s namespace."""
        import socket
        end = time.time() + seconds
        with InNamespace(self.ns(role)):
            while time.time() < end:
                try:
                    socket.create_connection((host, port), 0.3).close()
                    return True
                except OSError:
                    time.sleep(0.1)
        return False

    def close(self):
        if self.closed:
            return
        self.closed = True
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    pass
        for ns, _ in list(self.hosts.values()) + [(self.hub, None)]:
            sh("ip", "netns", "del", ns, check=False)


def run_in(ns, target, *args):
    """Starts a daemon thread that enters `ns` and then runs target(*args)."""
    def body():
        with InNamespace(ns):
            target(*args)
    t = threading.Thread(target=body, daemon=True)
    t.start()
    return t
