"""The download benchmark: `inbound get` against aria2c (and curl on loopback), the same
package from the same nginx, each tool at the same connection budget and aria2c once
more at its own defaults, over a real round-trip time (network namespaces joined by the
delay line) or loopback. See README.md; run through run.sh, as root."""

import argparse
import concurrent.futures
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from net import ConnectionCounter, Loopback, RxSampler, Wan

ROOT = Path(__file__).resolve().parent.parent
INBOUND = ROOT / "target" / "release" / "inbound"
# Built by run.sh with the bench-unhashed feature: no read-back, no hashing.
INBOUND_UNHASHED = ROOT / "target" / "release" / "inbound-unhashed"
MIB = 1024 * 1024
GIB = 1024 * MIB

NGINX_CONF = """
user root;
worker_processes 2;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    # What each request sent, a request cut short included: the bytes a kill wastes.
    log_format sent '$body_bytes_sent';
    access_log {work}/access-{key}.log sent;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path {work}/nginx-tmp;
    server {{
        listen {ip}:{port};
        location /storage/ {{ alias {storage}/; limit_rate {rate}; }}
    }}
}}
"""


def scenarios(args):
    """What each scenario serves, over which network, and how aria2c spends the budget
    `n` (its -x is per file and -j runs files at once: total = j x x)."""
    n = args.connections
    return {
        "S1": {
            "title": "long fat pipe",
            "net": lambda: Wan(80),
            "rate": "20m",
            "package": ["--only", "mixed", "--mixed-large", "2", "--mixed-large-size",
                        f"{args.s1_large_mib}M", "--mixed-small", "100"],
            "aria2c_budget": ["-j2", f"-x{n // 2}", f"-s{n // 2}"],
        },
        "S2": {
            "title": "many small files",
            "net": lambda: Wan(40),
            "rate": "0",
            "package": ["--only", "spread", "--spread-files", str(args.s2_files),
                        "--spread-min", "64K", "--spread-max", "2M"],
            "aria2c_budget": [f"-j{n}", "-x1", "-s1"],
        },
        "S3": {
            "title": "one large file, loopback",
            "net": Loopback,
            "rate": "0",
            "package": ["--only", "large", "--large-size", f"{args.s3_gib}G"],
            "aria2c_budget": ["-j1", f"-x{min(n, 16)}", f"-s{min(n, 16)}"],
        },
        "S4": {
            "title": "lossy",
            "net": lambda: Wan(100, 0.005),
            "rate": "0",
            "package": ["--only", "large", "--large-size", f"{args.s4_mib}M"],
            "aria2c_budget": ["-j1", f"-x{min(n, 16)}", f"-s{min(n, 16)}"],
        },
        # A package of a few hundred megabytes (a day's proxies, a stem set) from fast
        # storage that caps each connection: over before a slow ramp gets anywhere.
        "S5": s5("loopback", Loopback),
        "S5-20ms": s5("RTT 20 ms", lambda: Wan(20)),
    }


def s5(where, net):
    return {
        "title": f"mid-size package, capped connections, {where}",
        "net": net,
        "rate": "20m",
        "package": ["--only", "mixed", "--mixed-large", "1", "--mixed-large-size", "256M",
                    "--mixed-small", "200"],
        "aria2c_budget": ["-j2", "-x4", "-s4"],
        # aria2c as users run it for speed: 16 connections per file, five files at once.
        "aria2c_wide": ["-x16", "-s16", "-k1M", "-j5"],
    }


def timed(cmd, env=None):
    """Runs cmd under GNU time; returns wall s, CPU s, peak RSS MiB."""
    out = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", "-o", "/dev/stderr"] + cmd,
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if out.returncode != 0:
        sys.exit(f"{cmd} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    wall, user, system, rss_kib = out.stderr.strip().splitlines()[-1].split()
    return float(wall), float(user) + float(system), int(rss_kib) / 1024


def presigned(api, link):
    """The (url, relative path, size) of every file, as aria2c and curl get them. Run in
    the client's namespace (see --presign): every request is a round trip."""
    link_id = link.split("/")[-1].split("?")[0]
    secret = link.split("secret=")[1]
    info = json.load(urllib.request.urlopen(f"{api}/links/{link_id}?secret={secret}"))
    token = {"X-Package-Token": info["package_token"]}
    pid = info["package_id"]
    files = json.load(urllib.request.urlopen(urllib.request.Request(
        f"{api}/packages/{pid}/files", headers=token)))

    def one(f):
        req = urllib.request.Request(f"{api}/packages/{pid}/files/{f['id']}/download", headers=token)
        url = json.load(urllib.request.urlopen(req))["url"]
        return url, f"{f['path']}/{f['name']}" if f.get("path") else f["name"], f["size"]

    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        return list(pool.map(one, files))


def tree_bytes(d):
    """The package's bytes, leaving out the ASC MHL history Inbound writes beside them."""
    return sum(p.stat().st_size for p in Path(d).rglob("*")
               if p.is_file() and "ascmhl" not in p.relative_to(d).parts)


def run_scenario(key, spec, args, work):
    storage = work / "storage"
    with spec["net"]() as net:
        port = 18080
        conf = work / f"nginx-{key}.conf"
        conf.write_text(NGINX_CONF.format(work=work, key=key, ip=net.server_ip, port=port,
                                          storage=storage, rate=spec["rate"]))
        sim = subprocess.Popen(net.server(
            [str(INBOUND), "sim", "--bind", net.server_ip, "--port", "0",
             "--storage-base", f"http://{net.server_ip}:{port}/storage",
             "--export-storage", str(storage)] + spec["package"]),
            stdout=subprocess.PIPE, text=True)
        nginx = None
        try:
            api = sim.stdout.readline().strip().split("=", 1)[1]
            link = sim.stdout.readline().split()[0]
            nginx = subprocess.Popen(net.server(["nginx", "-c", str(conf), "-g", "daemon off;"]))
            time.sleep(0.5)
            # aria2c and curl are handed every file's presigned URL, as they cannot ask
            # MASV for them; Inbound asks as it goes, and its time includes that.
            presign_started = time.monotonic()
            files = json.loads(subprocess.run(
                net.client([sys.executable, __file__, "--presign", api, link]),
                check=True, capture_output=True, text=True).stdout)
            presign_s = time.monotonic() - presign_started
            total = sum(size for _, _, size in files)
            results = {}
            killed = None

            def measure(tool, cmd, dest, env=None, before_each=None, runs=1):
                """Runs the tool `runs` times (`before_each` clears its output) and keeps
                the run of median speed: on 2 cores the kernel's write cost alone varies
                run to run by more than the differences measured."""
                if args.tools and tool not in args.tools.split(","):
                    return
                samples = []
                for _ in range(runs):
                    if before_each:
                        before_each()
                    # The disk idle at each start: the package files generated just before
                    # (gigabytes) and the last run's writes would otherwise be written back
                    # while the next tool runs, and the first tool measured pay for them.
                    os.sync()
                    with ConnectionCounter(net, port) as conns, RxSampler(net) as rx:
                        t0 = time.monotonic()
                        wall, cpu, rss = timed(net.client(cmd), env=env)
                        first_mib, at90, full = rx.ramp(t0)
                    written = tree_bytes(dest)
                    if written != total:
                        sys.exit(f"{key}: {tool} wrote {written} bytes, expected {total}")
                    samples.append((wall, cpu, rss, conns.peak, conns.mean, first_mib, at90, full))
                samples.sort()
                wall, cpu, rss, peak, mean, first_mib, at90, full = samples[len(samples) // 2]
                results[tool] = {"wall_s": wall, "cpu_s": round(cpu, 2), "peak_rss_mib": round(rss, 1),
                                 "mib_per_s": round(total / MIB / wall, 1),
                                 "cpu_s_per_gib": round(cpu / (total / GIB), 3),
                                 "connections_peak": peak,
                                 "connections_mean": round(mean, 1), "runs": runs,
                                 "first_mib_s": first_mib and round(first_mib, 3),
                                 "full_rate_s": at90 and round(at90, 3),
                                 "full_rate_mib_per_s": full and round(full, 1)}
                print(f"  {key} {tool}: {results[tool]}", file=sys.stderr)

            # At the budget; finding its own count; and, where the best count is the
            # question (S1, S4), at other fixed counts to compare the adaptive one with.
            inbound_runs = [("inbound", INBOUND, args.connections), ("inbound auto", INBOUND, None)]
            if key in ("S1", "S4") or key.startswith("S5"):
                inbound_runs += [(f"inbound-c{c}", INBOUND, c) for c in args.fixed_counts
                                 if c != args.connections]
            if key == "S3":
                inbound_runs.append(("inbound-unhashed", INBOUND_UNHASHED, args.connections))
                # The memory target: 64 connections.
                inbound_runs.append(("inbound-c64", INBOUND, 64))
            for tool, binary, count in inbound_runs:
                dest = work / f"{key}-{tool}"
                data = work / f"{key}-{tool}-data"
                env = dict(os.environ, MASV_API_URL=api, INBOUND_DATA_DIR=str(data))
                cmd = [str(binary), "get", link, "--dest", str(dest), "--no-package-folder"]
                if count is not None:
                    cmd += ["--connections", str(count)]

                def clear(dest=dest, data=data):
                    shutil.rmtree(dest, ignore_errors=True)
                    shutil.rmtree(data, ignore_errors=True)
                # S1's and S5's runs take seconds: repeated, the adaptive and fixed counts
                # compare medians, not one draw each.
                repeated = key == "S1" or key.startswith("S5")
                runs = args.s1_runs if repeated else args.s4_runs if key == "S4" else 1
                measure(tool, cmd, dest, env, before_each=clear, runs=runs)
                # --kills 0: the speeds alone.
                if tool == "inbound auto" and key.startswith("S5") and args.kills > 0:
                    clear()
                    killed = kill_cost(
                        net, key, work, cmd, env, dest, total, args.kills)
                    clear()
                if tool == "inbound" and key == "S3" and dest.exists():
                    # Hashing alone, as `inbound verify` does it from the page cache.
                    wall, cpu, rss = timed([str(INBOUND), "verify", "--quiet", str(dest)])
                    results["inbound verify"] = {"wall_s": wall, "cpu_s": round(cpu, 2),
                                                 "peak_rss_mib": round(rss, 1),
                                                 "mib_per_s": round(total / MIB / wall, 1),
                                                 "cpu_s_per_gib": round(cpu / (total / GIB), 3)}
                shutil.rmtree(dest, ignore_errors=True)
                shutil.rmtree(data, ignore_errors=True)

            listing = work / f"{key}-aria2.txt"
            listing.write_text("".join(f"{u}\n  out={p}\n" for u, p, _ in files))
            common = ["--file-allocation=none", "--console-log-level=warn", "--summary-interval=0",
                      "--allow-overwrite=true", "--auto-file-renaming=false", "-i", str(listing)]
            aria2c_runs = [("aria2c", spec["aria2c_budget"] + ["-k1M"]), ("aria2c defaults", [])]
            if "aria2c_wide" in spec:
                aria2c_runs.append(("aria2c " + " ".join(spec["aria2c_wide"]), spec["aria2c_wide"]))
            for tool, flags in aria2c_runs:
                dest = work / f"{key}-aria2c"
                runs = args.s1_runs if key.startswith("S5") else 1
                measure(tool, ["aria2c"] + flags + common + ["-d", str(dest)], dest,
                        before_each=lambda dest=dest: shutil.rmtree(dest, ignore_errors=True), runs=runs)
                shutil.rmtree(dest, ignore_errors=True)

            if key == "S3":
                dest = work / f"{key}-curl"
                listing = work / f"{key}-curl.txt"
                listing.write_text("".join(f"{u}\t{p}\n" for u, p, _ in files))
                script = ('while IFS="\t" read -r url path; do '
                          f'curl -sS --fail --create-dirs -o "{dest}/$path" "$url" || exit 1; done < "{listing}"')
                measure("curl", ["bash", "-c", script], dest)
                shutil.rmtree(dest, ignore_errors=True)
                # What receiving and writing cost on this machine whatever the tool: the
                # same bytes received and thrown away, and the same bytes copied from
                # the page cache to a new file on the same disk (no network).
                url, _, _ = files[0]
                stored = next(p for p in storage.rglob("*") if p.is_file())
                floors = (("floor: curl to /dev/null", net.client(["curl", "-sS", "--fail", "-o", "/dev/null", url])),
                          ("floor: dd to disk", ["dd", f"if={stored}", f"of={work / 'S3-floor'}", "bs=1M", "status=none"]))
                for tool, cmd in floors:
                    wall, cpu, rss = timed(cmd)
                    results[tool] = {"wall_s": wall, "cpu_s": round(cpu, 2), "peak_rss_mib": round(rss, 1),
                                     "mib_per_s": round(total / MIB / wall, 1),
                                     "cpu_s_per_gib": round(cpu / (total / GIB), 3)}
                    print(f"  {key} {tool}: {results[tool]}", file=sys.stderr)
                (work / "S3-floor").unlink(missing_ok=True)
            return {"title": spec["title"], "network": net.description, "rate_per_connection": spec["rate"],
                    "files": len(files), "bytes": total, "presign_s": round(presign_s, 1),
                    "aria2c_budget_flags": " ".join(spec["aria2c_budget"]), "tools": results,
                    **({"kill_cost": killed} if killed else {})}
        finally:
            if nginx:
                nginx.terminate()
                nginx.wait()
            sim.send_signal(signal.SIGINT)
            sim.wait()
            shutil.rmtree(storage, ignore_errors=True)


def kill_cost(net, key, work, cmd, env, dest, total, kills):
    """Runs `cmd` and kills it (SIGKILL) each time it has received another
    1/(kills + 1) of the package, `kills` times, then lets the last run finish: what
    storage served in all, from nginx's log, against the package's size; and how much
    of the waste reached the client (received, not kept) and how much never did (on
    its way when the process died: in the sockets' queues, or on the wire)."""
    log = work / f"access-{key}.log"
    log.write_text("")
    share = total / (kills + 1)
    with RxSampler(net) as rx:
        started = time.monotonic()
        for _ in range(kills):
            t0 = time.monotonic()
            proc = subprocess.Popen(net.client(cmd), env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            rx.wait_for(lambda: rx.received_since(t0) >= share or proc.poll() is not None)
            if proc.poll() is not None:
                sys.exit(f"{key}: the run to be killed ended first ({proc.returncode})")
            proc.kill()
            proc.wait()
        subprocess.run(net.client(cmd), env=env, check=True, stdout=subprocess.DEVNULL)
        # The last samples in, then everything the client received in all.
        time.sleep(0.1)
        rx.wait_for(lambda: rx.samples[-1][0] > time.monotonic() - 0.05)
        received = rx.received_since(started)
    if tree_bytes(dest) != total:
        sys.exit(f"{key}: after {kills} kills the package is {tree_bytes(dest)} bytes, expected {total}")
    # nginx logs a request cut short once it notices; by now it has.
    time.sleep(1)
    served = sum(int(line) for line in log.read_text().split())
    result = {"kills": kills, "served_bytes": served, "served_ratio": round(served / total, 3),
              "wasted_mib_per_kill": round((served - total) / MIB / kills, 1),
              "received_not_kept_mib_per_kill": round((received - total) / MIB / kills, 1),
              "never_received_mib_per_kill": round((served - received) / MIB / kills, 1)}
    print(f"  {key} kill cost: {result}", file=sys.stderr)
    return result


def verdicts(key, s, args):
    """How the scenario's result compares with the issue's targets."""
    t = s["tools"]
    # None when a tool was left out (--tools): that verdict is not given.
    ratio = lambda a, b: t[a]["mib_per_s"] / t[b]["mib_per_s"] if a in t and b in t else None
    out = []

    def target(what, value, goal, higher=True):
        if value is None:
            return
        met = value >= goal if higher else value <= goal
        out.append(f"{what} {value:.2f} (target {'≥' if higher else '≤'} {goal}): "
                   + ("met" if met else f"missed by {abs(value - goal) / goal * 100:.0f} %"))

    if key in ("S1", "S4") or key.startswith("S5"):
        fixed = {k: v for k, v in t.items() if k == "inbound" or k.startswith("inbound-c")}
        best = max(fixed, key=lambda k: fixed[k]["mib_per_s"], default="inbound")
        s["best_fixed"] = best
        target(f"adaptive vs the best fixed count ({best})", ratio("inbound auto", best),
               0.9 if key.startswith("S5") else 0.95)
    if key == "S1":
        ceiling = args.connections * 20
        s["ceiling_mib_per_s"] = ceiling
        target("vs aria2c at the same budget", ratio("inbound", "aria2c"), 1.05)
        if "inbound" in t:
            target("share of the ceiling", t["inbound"]["mib_per_s"] / ceiling, 0.95)
    elif key == "S2":
        target("vs aria2c at the same budget", ratio("inbound", "aria2c"), 1.5)
    elif key == "S3":
        target("vs aria2c at the same budget", ratio("inbound", "aria2c"), 2.5)
        if "inbound" in t:
            target("CPU s per GiB", t["inbound"]["cpu_s_per_gib"], 0.5, higher=False)
            target("peak RSS MiB", t["inbound"]["peak_rss_mib"], 40, higher=False)
        if "inbound-c64" in t:
            target("peak RSS MiB at 64 connections", t["inbound-c64"]["peak_rss_mib"], 40, higher=False)
        if "floor: dd to disk" in t:
            out.append("the same bytes cost, on this machine, whatever the tool: "
                       f"{t['floor: curl to /dev/null']['cpu_s_per_gib']:.2f} CPU s/GiB to receive "
                       f"(curl to /dev/null) and {t['floor: dd to disk']['cpu_s_per_gib']:.2f} to write "
                       "from the page cache to a new file (dd)")
    if key.startswith("S5"):
        wide = next((k for k in t if k.startswith("aria2c -x16")), "aria2c -x16")
        target(f"adaptive vs {wide}", ratio("inbound auto", wide), 1.0)
        killed = s.get("kill_cost")
        if killed:
            target(f"inbound auto killed {killed['kills']} times mid-package: bytes served per package byte "
                   f"({killed['wasted_mib_per_kill']} MiB wasted per kill: "
                   f"{killed.get('received_not_kept_mib_per_kill', '?')} received and not kept, "
                   f"{killed.get('never_received_mib_per_kill', '?')} on its way when the process died)",
                   killed["served_ratio"], 1.2, higher=False)
    if key == "S4":
        target("vs aria2c at its defaults", ratio("inbound", "aria2c defaults"), 1.3)
        target("adaptive vs aria2c at its defaults", ratio("inbound auto", "aria2c defaults"), 1.3)
    s["verdicts"] = out
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--presign", nargs=2, metavar=("API", "LINK"), help=argparse.SUPPRESS)
    ap.add_argument("--only", default="S1,S2,S3,S4,S5,S5-20ms", help="comma list of scenarios")
    ap.add_argument("--connections", type=int, default=8,
                    help="the connection budget every tool gets (aria2c's -j x -x match it)")
    ap.add_argument("--fixed-counts", type=int, nargs="*", default=[4, 16, 32],
                    help="S1 and S4 also run inbound at these fixed counts")
    ap.add_argument("--s1-large-mib", type=int, default=1024)
    ap.add_argument("--s1-runs", type=int, default=3,
                    help="S1 and S5 run each tool this many times and keep the median")
    ap.add_argument("--s2-files", type=int, default=5000)
    ap.add_argument("--s3-gib", type=int, default=4)
    ap.add_argument("--s4-mib", type=int, default=1024)
    ap.add_argument("--s4-runs", type=int, default=1,
                    help="S4 runs Inbound this many times at each count (its lossy path varies by "
                         "±20 %% from one run to the next) and keeps the median")
    ap.add_argument("--tools", default="",
                    help="comma list: run only these tools (names as in the table), e.g. "
                         "'inbound auto,inbound-c32' to compare two closely")
    ap.add_argument("--kills", type=int, default=3,
                    help="S5 kills inbound this many times mid-package (the bytes a kill wastes)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = ap.parse_args()
    if args.presign:
        print(json.dumps(presigned(*args.presign)))
        return

    work = Path(tempfile.mkdtemp(prefix="inbound-bench-"))
    (work / "nginx-tmp").mkdir()
    report = {"connections": args.connections, "machine": {"cores": os.cpu_count()},
              "date": time.strftime("%Y-%m-%d %H:%M:%S"), "scenarios": {}}
    out = Path(args.out)
    try:
        for key, spec in scenarios(args).items():
            if key in args.only.split(","):
                report["scenarios"][key] = run_scenario(key, spec, args, work)
                report["scenarios"][key]["date"] = time.strftime("%Y-%m-%d %H:%M:%S")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # Scenarios not run this time keep their last results (each says when it ran).
    previous = out / "latest.json"
    if previous.exists():
        kept = json.loads(previous.read_text()).get("scenarios", {})
        for key, s in kept.items():
            report["scenarios"].setdefault(key, s)
        report["scenarios"] = dict(sorted(report["scenarios"].items()))

    lines = [f"Connection budget {args.connections} for every tool (aria2c's -j x -x chosen to match; "
             f"'aria2c defaults' is aria2c as it comes; 'inbound auto' finds its own count, up to 32; "
             f"inbound-cN: N fixed). {report['date']}, {os.cpu_count()} cores.", "",
             "| scenario | tool | MiB/s | vs aria2c | vs aria2c defaults | connections peak / mean "
             "| first MiB s | 90 % of full rate s (full MiB/s) | CPU s/GiB | peak RSS MiB |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for key, s in report["scenarios"].items():
        t = s["tools"]
        for tool, r in t.items():
            conns = (f"{r['connections_peak']} / {r['connections_mean']}" if "connections_peak" in r else "—")
            first = f"{r['first_mib_s']:.2f}" if r.get("first_mib_s") is not None else "—"
            full = (f"{r['full_rate_s']:.2f} ({r['full_rate_mib_per_s']:.0f})"
                    if r.get("full_rate_s") is not None else "—")
            vs = lambda other: f"{r['mib_per_s'] / t[other]['mib_per_s']:.2f}x" if other in t else "—"
            lines.append(
                f"| {key} {s['title']} ({s['network']}) | {tool} | {r['mib_per_s']:.1f} | "
                f"{vs('aria2c')} | {vs('aria2c defaults')} | {conns} | {first} | {full} | "
                f"{r['cpu_s_per_gib']:.3f} | {r['peak_rss_mib']:.1f} |")
    for key, s in report["scenarios"].items():
        lines.append("")
        lines.append(f"{key}, run {s.get('date', report['date'])} ({s['files']} files, {s['bytes'] / MIB:.0f} MiB; "
                     f"aria2c {s['aria2c_budget_flags']}; "
                     f"the presigned URLs aria2c and curl were handed took {s.get('presign_s', '?')} s to get "
                     f"with 32 requests at once, not counted in their time):")
        lines += [f"- {v}" for v in verdicts(key, s, args)]
    table = "\n".join(lines)
    print(table)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "latest.md").write_text(table + "\n")
    print(f"\nwritten to {out}/latest.json and latest.md")


if __name__ == "__main__":
    main()
