"""A fault-injecting TCP proxy the network-fault tests own (this kernel has no sch_netem, so delay
and mid-reply resets are made here): it relays a client to one upstream and, per the current mode,
delays every reply by `delay_ms`, or resets the connection in the middle of any reply larger than
`reset_over` bytes (half the reply is sent, then an RST: SO_LINGER 0 and close). Small replies such
as PONG pass, so a peer's health check says up while its forwards break.

Threads only; every socket has a timeout and every loop checks `stopped`, so stop() ends it."""
import socket, struct, threading, time


class FaultProxy:
    def __init__(self, listen, upstream):
        self.listen, self.upstream = listen, upstream
        self.delay_ms = 0
        self.reset_over = None
        self.resets = 0
        self.stopped = threading.Event()
        self.server = None

    def serve(self):
        """The accept loop; run it in a thread inside the proxy's namespace (see netlab.run_in)."""
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(self.listen)
        self.server.listen(64)
        self.server.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                client, _ = self.server.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            try:
                up = socket.create_connection(self.upstream, 1.0)
            except OSError:
                client.close()
                continue
            for s in (client, up):
                s.settimeout(0.2)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._pump, args=(client, up, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, client, True), daemon=True).start()
        self.server.close()

    def _pump(self, src, dst, is_reply):
        try:
            while not self.stopped.is_set():
                try:
                    data = src.recv(65536)
                except socket.timeout:
                    continue
                if not data:
                    break
                if is_reply and self.delay_ms:
                    time.sleep(self.delay_ms / 1000)
                if is_reply and self.reset_over is not None and len(data) > self.reset_over:
                    dst.sendall(data[: len(data) // 2])
                    self.resets += 1
                    for s in (dst, src):
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass

    def stop(self):
        self.stopped.set()
