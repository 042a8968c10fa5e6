"""Runs the download benchmark; see run.sh. Standard library only."""

import argparse
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

ROOT = Path(__file__).resolve().parent.parent
INBOUND = ROOT / "target" / "release" / "inbound"
# Built by run.sh with the bench-unhashed feature: no read-back, no hashing.
INBOUND_UNHASHED = ROOT / "target" / "release" / "inbound-unhashed"
MIB = 1024 * 1024
GIB = 1024 * MIB

NGINX_CONF = """
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
user root;
worker_processes 2;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path {work}/nginx-tmp;
    server {{
        listen 127.0.0.1:{wan_port};
        location /storage/ {{
            alias {storage}/;
            limit_rate {rate};
            access_by_lua_block {{ ngx.sleep({latency}) }}
        }}
    }}
    server {{
        listen 127.0.0.1:{lan_port};
        location /storage/ {{ alias {storage}/; }}
    }}
}}
"""


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(cmd, env=None, cwd=None):
    """Runs cmd under GNU time; returns wall s, cpu s, peak RSS MiB."""
    fmt = "%e %U %S %M"
    out = subprocess.run(
        ["/usr/bin/time", "-f", fmt, "-o", "/dev/stderr"] + cmd,
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    last = out.stderr.strip().splitlines()[-1]
    if out.returncode != 0:
        sys.exit(f"{cmd[0]} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    wall, user, system, rss_kib = last.split()
    return float(wall), float(user) + float(system), int(rss_kib) / 1024


def start_sim(args, work, storage_base, latency_ms, export):
    cmd = [
        str(INBOUND), "sim", "--port", "0", "--only", "mixed",
        "--mixed-large", str(args.large_files),
        "--mixed-large-size", f"{args.large_mib}M",
        "--mixed-small", str(args.small_files),
        "--storage-base", storage_base,
        "--latency-ms", str(latency_ms),
    ]
    if export:
        cmd += ["--export-storage", str(work / "storage")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    api = proc.stdout.readline().strip().split("=", 1)[1]
    link = proc.stdout.readline().split()[0]
    return proc, api, link


def presigned(api, link):
    """The (url, relative path, size) of every file, as curl and aria2c get them."""
    link_id = link.split("/")[-1].split("?")[0]
    secret = link.split("secret=")[1]
    info = json.load(urllib.request.urlopen(f"{api}/links/{link_id}?secret={secret}"))
    token = {"X-Package-Token": info["package_token"]}
    pid = info["package_id"]
    req = urllib.request.Request(f"{api}/packages/{pid}/files", headers=token)
    files = json.load(urllib.request.urlopen(req))
    out = []
    for f in files:
        req = urllib.request.Request(f"{api}/packages/{pid}/files/{f['id']}/download", headers=token)
        url = json.load(urllib.request.urlopen(req))["url"]
        path = f"{f['path']}/{f['name']}" if f.get("path") else f["name"]
        out.append((url, path, f["size"]))
    return out


def tree_bytes(d):
    """The package's bytes, leaving out the ASC MHL history Inbound writes beside them."""
    return sum(p.stat().st_size for p in Path(d).rglob("*")
               if p.is_file() and "ascmhl" not in p.relative_to(d).parts)


def run_scenario(name, args, work, storage_base, latency_ms, export):
    sim, api, link = start_sim(args, work, storage_base, latency_ms, export)
    try:
        files = presigned(api, link)
        total = sum(s for _, s, _ in [(u, s, p) for u, p, s in files])
        results = {}

        runs = [("inbound", INBOUND, args.connections)]
        runs += [(f"inbound-c{c}", INBOUND, c) for c in args.also_connections]
        runs += [("inbound-unhashed", INBOUND_UNHASHED, args.connections)]
        for tool, binary, conns in runs:
            dest = work / f"{name}-{tool}"
            env = dict(os.environ, MASV_API_URL=api, INBOUND_DATA_DIR=str(work / f"{name}-{tool}-data"))
            wall, cpu, rss = timed(
                [str(binary), "get", link, "--dest", str(dest), "--connections", str(conns),
                 "--no-package-folder"],
                env=env,
            )
            results[tool] = (wall, cpu, rss, tree_bytes(dest))
            if tool == "inbound":
                # Hashing alone, as `inbound verify` does it: every byte read back from the
                # page cache and hashed (xxh128), what the download does as ranges land.
                wall, cpu, rss = timed([str(INBOUND), "verify", "--quiet", str(dest)])
                results["inbound verify"] = (wall, cpu, rss, tree_bytes(dest))
            shutil.rmtree(dest)

        dest = work / f"{name}-curl"
        listing = work / f"{name}-curl.txt"
        listing.write_text("".join(f"{u}\t{p}\n" for u, p, _ in files))
        script = (
            'while IFS="\t" read -r url path; do '
            f'curl -sS --fail --create-dirs -o "{dest}/$path" "$url" || exit 1; done < "{listing}"'
        )
        wall, cpu, rss = timed(["bash", "-c", script])
        results["curl"] = (wall, cpu, rss, tree_bytes(dest))
        shutil.rmtree(dest)

        dest = work / f"{name}-aria2c"
        listing = work / f"{name}-aria2.txt"
        listing.write_text("".join(f"{u}\n  out={p}\n" for u, p, _ in files))
        wall, cpu, rss = timed([
            "aria2c", "-x16", "-s16", "-k1M", "-j5", "-i", str(listing), "-d", str(dest),
            "--file-allocation=none", "--console-log-level=warn", "--summary-interval=0",
            "--allow-overwrite=true", "--auto-file-renaming=false",
        ])
        results["aria2c"] = (wall, cpu, rss, tree_bytes(dest))
        shutil.rmtree(dest)
        for tool, r in results.items():
            if r[3] != total:
                sys.exit(f"{name}: {tool} wrote {r[3]} bytes, expected {total}")
        return total, results
    finally:
        sim.send_signal(signal.SIGINT)
        sim.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--large-files", type=int, default=2)
    ap.add_argument("--large-mib", type=int, default=256)
    ap.add_argument("--small-files", type=int, default=100)
    ap.add_argument("--connections", type=int, default=16,
                    help="inbound's connections, as aria2c's -x16")
    ap.add_argument("--also-connections", type=int, nargs="*", default=[32],
                    help="extra inbound runs with these connection counts")
    ap.add_argument("--rate", default="20m", help="nginx limit_rate per connection in (a)")
    ap.add_argument("--latency-ms", type=int, default=25)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="inbound-bench-"))
    (work / "nginx-tmp").mkdir()
    (work / "storage").mkdir()
    wan_port, lan_port = free_port(), free_port()
    conf = work / "nginx.conf"
    conf.write_text(NGINX_CONF.format(
        work=work, storage=work / "storage", wan_port=wan_port, lan_port=lan_port,
        rate=args.rate, latency=args.latency_ms / 1000,
    ))
    nginx = subprocess.Popen(["nginx", "-c", str(conf), "-g", "daemon off;"])
    time.sleep(0.5)
    try:
        scenarios = {}
        scenarios["a_wan"] = run_scenario(
            "a_wan", args, work, f"http://127.0.0.1:{wan_port}/storage", args.latency_ms, True)
        scenarios["b_loopback"] = run_scenario(
            "b_loopback", args, work, f"http://127.0.0.1:{lan_port}/storage", 0, False)
    finally:
        nginx.terminate()
        nginx.wait()
        shutil.rmtree(work, ignore_errors=True)

    report = {
        "package": {"large_files": args.large_files, "large_mib": args.large_mib,
                    "small_files": args.small_files, "small_kib": 256},
        "connections": args.connections,
        "wan": {"per_connection_rate": args.rate, "latency_ms": args.latency_ms},
        "machine": {"cores": os.cpu_count()},
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "scenarios": {},
    }
    lines = ["| scenario | tool | MiB/s | vs curl | vs aria2c | wall s | CPU s | peak RSS MiB |",
             "|---|---|---|---|---|---|---|---|"]
    for name, (total, results) in scenarios.items():
        rates = {t: total / MIB / r[0] for t, r in results.items()}
        report["scenarios"][name] = {
            "bytes": total,
            "tools": {t: {"mib_per_s": round(rates[t], 1), "wall_s": r[0], "cpu_s": round(r[1], 2),
                          "peak_rss_mib": round(r[2], 1)} for t, r in results.items()},
            "inbound_vs_curl": round(rates["inbound"] / rates["curl"], 2),
            "inbound_vs_aria2c": round(rates["inbound"] / rates["aria2c"], 2),
            "hashing": {
                "throughput_ratio_hashed_vs_unhashed": round(rates["inbound"] / rates["inbound-unhashed"], 3),
                "extra_cpu_s_per_gib": round((results["inbound"][1] - results["inbound-unhashed"][1]) / (total / GIB), 3),
                "verify_cpu_s_per_gib": round(results["inbound verify"][1] / (total / GIB), 3),
            },
            "note": "aria2c -j5 -x16 opens up to 16 connections per file, 5 files at once",
        }
        for t, r in results.items():
            lines.append(
                f"| {name} | {t} | {rates[t]:.1f} | {rates[t] / rates['curl']:.2f}x | "
                f"{rates[t] / rates['aria2c']:.2f}x | {r[0]:.2f} | {r[1]:.2f} | {r[2]:.1f} |")
    for name, s in report["scenarios"].items():
        h = s["hashing"]
        lines.append("")
        lines.append(
            f"{name}: hashing (xxh128) keeps {h['throughput_ratio_hashed_vs_unhashed'] * 100:.1f} % of the "
            f"unhashed throughput and costs {h['extra_cpu_s_per_gib']:.3f} CPU-s/GiB in the download "
            f"({h['verify_cpu_s_per_gib']:.3f} CPU-s/GiB for `inbound verify` alone)")
    table = "\n".join(lines)
    print(table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "latest.md").write_text(
        f"Package: {args.large_files} x {args.large_mib} MiB + {args.small_files} x 256 KiB; "
        f"inbound with {args.connections} connections (rows inbound-cN: N connections), "
        f"aria2c -x16 -s16 -k1M -j5 (up to 16 per file, 5 files at once); "
        f"(a) nginx limit_rate {args.rate} per connection and {args.latency_ms} ms before each "
        f"response, (b) unthrottled loopback. {report['date']}, {os.cpu_count()} cores.\n\n"
        + table + "\n")
    print(f"\nwritten to {out}/latest.json and latest.md")


if __name__ == "__main__":
    main()
