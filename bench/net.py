"""Where the benchmark's servers and clients run: two network namespaces joined by the
delay line (a real round-trip time and loss, see delayline/), or plain loopback."""

import subprocess
import sys
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
    # The device whose received-bytes counter follows a transfer (RxSampler).
    rx_device = "lo"

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
    rx_device = client_dev

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


# Run on the client's side of the network (its namespace's /sys shows its devices): the
# device's received-bytes counter, with the system-wide monotonic time, every few ms.
_RX_SAMPLER = """
import sys, time
path = f"/sys/class/net/{sys.argv[1]}/statistics/rx_bytes"
every = float(sys.argv[2])
while True:
    with open(path) as f:
        value = f.read().strip()
    print(f"{time.monotonic():.4f} {value}", flush=True)
    time.sleep(every)
"""


class RxSampler:
    """The bytes the client side receives, over time: for how soon a tool's bytes start
    to flow and how soon they flow at full rate, and for stopping a tool after a share of
    the package. The counter is the device's, so a tool's MASV API calls count too (a
    few kilobytes for a package's listing and URLs)."""

    def __init__(self, net, every=0.01):
        self.cmd = net.client([sys.executable, "-c", _RX_SAMPLER, net.rx_device, str(every)])
        self.samples = []
        self._arrived = threading.Condition()

    def __enter__(self):
        self._proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, text=True)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        self.wait_for(lambda: self.samples)
        return self

    def __exit__(self, *exc):
        self._proc.kill()
        self._proc.wait()
        self._thread.join()
        return False

    def _read(self):
        for line in self._proc.stdout:
            t, value = line.split()
            with self._arrived:
                self.samples.append((float(t), int(value)))
                self._arrived.notify_all()

    def wait_for(self, ready, timeout=600):
        with self._arrived:
            if not self._arrived.wait_for(ready, timeout):
                raise SystemExit("the received-bytes sampler stopped answering")

    def received_since(self, t0):
        """Bytes received from time t0 (time.monotonic()) to the latest sample."""
        before = [v for t, v in self.samples if t <= t0]
        base = before[-1] if before else self.samples[0][1]
        return self.samples[-1][1] - base

    def ramp(self, t0, first=1024 * 1024, window=0.2):
        """From t0 (a tool's start): seconds to its first MiB, seconds until it received
        at 90 % of its full rate (the best rate over any `window`), and that rate in
        MiB/s."""
        before = [v for t, v in self.samples if t <= t0]
        base = before[-1] if before else self.samples[0][1]
        series = [(t - t0, v - base) for t, v in self.samples if t > t0]
        first_at = next((t for t, v in series if v >= first), None)
        rates = []
        j = 0
        for t, v in series:
            while series[j][0] < t - window:
                j += 1
            if t - series[j][0] >= window * 0.75:
                rates.append((t, (v - series[j][1]) / (t - series[j][0])))
        if not rates:
            return first_at, None, None
        full = max(r for _, r in rates)
        at90 = next(t for t, r in rates if r >= 0.9 * full)
        return first_at, at90, full / (1024 * 1024)
