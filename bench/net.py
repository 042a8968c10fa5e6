"""Where the benchmark's servers and clients run: two network namespaces joined by the
delay line (a real round-trip time and loss, see delayline/), or plain loopback."""

import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DELAYLINE = ROOT / "target" / "release" / "inbound-delayline"


def sh(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


class Loopback:
    """Servers and clients on this machine's loopback: no delay, no limit."""

    server_ip = "127.0.0.1"
    description = "loopback"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def client(self, cmd):
        return list(cmd)

    def server(self, cmd):
        return list(cmd)


class Wan:
    """A client and a server network namespace whose only path to each other is the delay
    line: every packet waits half the round trip each way, and a share `loss` of them is
    dropped. The server side uses CUBIC, as most storage does."""

    client_ns, server_ns = "inbound-bench-c", "inbound-bench-s"
    client_dev, server_dev = "ibbench-c", "ibbench-s"
    client_ip, server_ip = "10.77.0.1", "10.77.0.2"

    def __init__(self, rtt_ms, loss=0.0, mtu=9000):
        self.rtt_ms, self.loss, self.mtu = rtt_ms, loss, mtu
        self.description = f"RTT {rtt_ms} ms" + (f", {loss * 100:g} % loss" if loss else "")
        self.line = None
        self.allowed_before = None

    def __enter__(self):
        try:
            return self._set_up()
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def _set_up(self):
        self._remove()
        for ns in (self.client_ns, self.server_ns):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        self.line = subprocess.Popen(
            [str(DELAYLINE), "--devices", self.client_dev, self.server_dev,
             "--rtt-ms", str(self.rtt_ms), "--loss", str(self.loss), "--mtu", str(self.mtu)],
            stdout=subprocess.PIPE, text=True)
        if self.line.stdout.readline().strip() != "ready":
            raise SystemExit("the delay line did not start (it needs root and /dev/net/tun)")
        for ns, dev, ip, peer in ((self.client_ns, self.client_dev, self.client_ip, self.server_ip),
                                  (self.server_ns, self.server_dev, self.server_ip, self.client_ip)):
            sh("ip", "link", "set", dev, "netns", ns)
            sh("ip", "-n", ns, "addr", "add", f"{ip}/32", "dev", dev)
            # A queue long enough for the path's bandwidth-delay product.
            sh("ip", "-n", ns, "link", "set", dev, "txqueuelen", "10000", "up")
            sh("ip", "-n", ns, "route", "add", f"{peer}/32", "dev", dev)
        # A namespace may pick only what the machine allows: allow CUBIC for the run.
        allowed_key = "net.ipv4.tcp_allowed_congestion_control"
        allowed = subprocess.run(["sysctl", "-n", allowed_key], capture_output=True, text=True).stdout.strip()
        if "cubic" not in allowed.split():
            self.allowed_before = allowed
            subprocess.run(["sysctl", "-q", "-w", f"{allowed_key}={allowed} cubic"], stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "netns", "exec", self.server_ns, "sysctl", "-q",
                        "net.ipv4.tcp_congestion_control=cubic"], stderr=subprocess.DEVNULL)
        self.congestion_control = subprocess.run(
            ["ip", "netns", "exec", self.server_ns, "sysctl", "-n", "net.ipv4.tcp_congestion_control"],
            capture_output=True, text=True).stdout.strip()
        self.description += f", server {self.congestion_control}"
        return self

    def __exit__(self, *exc):
        if self.line:
            self.line.terminate()
            self.line.wait()
        self._remove()
        if self.allowed_before is not None:
            subprocess.run(["sysctl", "-q", "-w",
                            f"net.ipv4.tcp_allowed_congestion_control={self.allowed_before}"])
        return False

    def _remove(self):
        for ns in (self.client_ns, self.server_ns):
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)

    def client(self, cmd):
        return ["ip", "netns", "exec", self.client_ns] + list(cmd)

    def server(self, cmd):
        return ["ip", "netns", "exec", self.server_ns] + list(cmd)


class ConnectionCounter:
    """Samples the client's established connections to the storage port a few times a
    second (`ss -tn`), for the peak and the mean while a tool runs."""

    def __init__(self, net, port, every=0.2):
        self.net, self.port, self.every = net, port, every
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False

    def _run(self):
        cmd = self.net.client(["ss", "-Htn", "state", "established", f"( dport = :{self.port} )"])
        while not self._stop.is_set():
            out = subprocess.run(cmd, capture_output=True, text=True).stdout
            self.samples.append(sum(1 for line in out.splitlines() if line.strip()))
            time.sleep(self.every)

    @property
    def peak(self):
        return max(self.samples, default=0)

    @property
    def mean(self):
        # Over the samples with the transfer under way (not the start-up and the end).
        busy = [s for s in self.samples if s > 0]
        return sum(busy) / len(busy) if busy else 0.0
