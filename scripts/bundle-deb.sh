#!/usr/bin/env bash
# Builds the .deb and .rpm bundles with the Tauri CLI (npm's `@tauri-apps/cli`, a
# prebuilt binary, installed into target/tools the first time, so nothing is compiled
# for it):
# the desktop app, and beside it the `inbound` command with its manual page and shell
# completions, the systemd user unit for `inbound agent`, and the AppStream metainfo.
#
# tauri.conf.json at the repository root is the one configuration; `cargo build` reads
# it through src-tauri/build.rs. The Tauri CLI, though, only accepts a configuration
# beside the app crate's Cargo.toml, with paths relative to that folder, so this script
# derives src-tauri/tauri.conf.json from the root file (paths rebased by "../", the
# extra files added), runs the CLI there, and removes the derived file again. Edit only
# the root file.
#
#   bash scripts/bundle-deb.sh           release bundles
#   bash scripts/bundle-deb.sh --debug   debug build, bundled the same way (CI)
# The bundles land in target/{release,debug}/bundle/{deb,rpm}/.
set -euo pipefail
cd "$(dirname "$0")/.."
derived=src-tauri/tauri.conf.json
trap 'rm -f "$derived"' EXIT
profile=release
for a in "$@"; do [ "$a" = "--debug" ] && profile=debug; done
# The command, and what it generates for packages.
cargo build -p inbound-cli $([ "$profile" = release ] && echo --release)
extra=target/$profile/packaging
mkdir -p "$extra"
inbound=target/$profile/inbound
"$inbound" man > "$extra/inbound.1"
"$inbound" completions bash > "$extra/inbound.bash"
"$inbound" completions zsh > "$extra/_inbound"
"$inbound" completions fish > "$extra/inbound.fish"
python3 - "$derived" "$PWD" "$profile" <<'PY'
import json, sys
root, profile = sys.argv[2], sys.argv[3]
extra = f"{root}/target/{profile}/packaging"
# Installed path -> file, for both bundles.
files = {
    "/usr/bin/inbound": f"{root}/target/{profile}/inbound",
    "/usr/share/man/man1/inbound.1": f"{extra}/inbound.1",
    "/usr/share/bash-completion/completions/inbound": f"{extra}/inbound.bash",
    "/usr/share/zsh/vendor-completions/_inbound": f"{extra}/_inbound",
    "/usr/share/fish/vendor_completions.d/inbound.fish": f"{extra}/inbound.fish",
    "/usr/lib/systemd/user/inbound-agent.service": f"{root}/packaging/inbound-agent.service",
    "/usr/share/metainfo/app.inbound.desktop.metainfo.xml": f"{root}/packaging/app.inbound.desktop.metainfo.xml",
}
conf = json.load(open("tauri.conf.json"))
conf["build"]["frontendDist"] = "../" + conf["build"]["frontendDist"]
conf["build"].pop("beforeBuildCommand", None)
conf["build"].pop("beforeDevCommand", None)
conf["bundle"]["icon"] = ["../" + i for i in conf["bundle"]["icon"]]
linux = conf["bundle"]["linux"]
linux["deb"]["desktopTemplate"] = "../" + linux["deb"]["desktopTemplate"]
linux["deb"]["files"] = files
linux.setdefault("rpm", {})["desktopTemplate"] = linux["deb"]["desktopTemplate"]
linux["rpm"]["files"] = files
json.dump(conf, open(sys.argv[1], "w"), indent=2)
PY
# Not one of the UI's own packages: its lock would have to list the other platforms'
# builds of the CLI, and a registry that carries only Linux's would then fail `npm ci`.
tauri_cli_version=2.12.4
tools=target/tools/tauri-cli
tauri=$PWD/$tools/node_modules/.bin/tauri
if ! "$tauri" --version 2>/dev/null | grep -qx "tauri-cli $tauri_cli_version"; then
  npm install --prefix "$tools" --no-save --no-audit --no-fund \
    "@tauri-apps/cli@$tauri_cli_version" >/dev/null
fi
(cd ui && npm run build >/dev/null)
(cd src-tauri && "$tauri" build --bundles deb,rpm --ci "$@")
deb=$(ls -t target/$profile/bundle/deb/*.deb | head -1)
rpm=$(ls -t target/$profile/bundle/rpm/*.rpm | head -1)
# The bundle must register the link schemes and carry the app.
desktop=$(dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards 'usr/share/applications/*.desktop')
grep -q 'x-scheme-handler/masv' <<<"$desktop"
grep -q 'x-scheme-handler/inbound' <<<"$desktop"
grep -q '^Exec=inbound-desktop %u$' <<<"$desktop"
installed=(usr/bin/inbound-desktop usr/bin/inbound usr/share/man/man1/inbound.1
  usr/share/bash-completion/completions/inbound usr/share/zsh/vendor-completions/_inbound
  usr/share/fish/vendor_completions.d/inbound.fish usr/lib/systemd/user/inbound-agent.service
  usr/share/metainfo/app.inbound.desktop.metainfo.xml)
for size in 16 24 32 48 64 128 256 512; do
  installed+=("usr/share/icons/hicolor/${size}x${size}/apps/inbound-desktop.png")
done
deb_list=$(dpkg-deb --contents "$deb")
rpm_list=$(rpm -qlp "$rpm" 2>/dev/null)
for f in "${installed[@]}"; do
  grep -q " $f\$" <<<"$deb_list" || { echo "the .deb lacks /$f" >&2; exit 1; }
  grep -qx "/$f" <<<"$rpm_list" || { echo "the .rpm lacks /$f" >&2; exit 1; }
done
# Their metadata: name, version, what it needs.
# Read whole, then checked: `grep -q` on a pipe leaves as soon as it matches, and the
# writer's SIGPIPE would fail the script under pipefail.
deb_fields=$(dpkg-deb --field "$deb" Package Version Depends)
rpm_info=$(rpm -qip "$rpm" 2>/dev/null)
printf '%s\n%s\n' "$deb_fields" "$rpm_info" >&2
grep -q '^Package: inbound' <<<"$deb_fields"
grep -q '^Name *: inbound' <<<"$rpm_info"
# What they carry is well-formed: the metainfo (AppStream), the manual page (rendered
# without a warning), the completions (bash parses it), the user unit (systemd reads it).
appstreamcli validate --no-net packaging/app.inbound.desktop.metainfo.xml
man_warnings=$(MANWIDTH=80 man --warnings -l "$extra/inbound.1" 2>&1 >/dev/null)
[ -z "$man_warnings" ] || { echo "the manual page: $man_warnings" >&2; exit 1; }
bash -n "$extra/inbound.bash"
unit_dir=$(mktemp -d)
sed "s#/usr/bin/inbound#$PWD/$inbound#" packaging/inbound-agent.service > "$unit_dir/inbound-agent.service"
systemd-analyze verify --man=no "$unit_dir/inbound-agent.service"
rm -r "$unit_dir"
echo "built $deb and $rpm"
