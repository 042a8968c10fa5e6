#!/usr/bin/env bash
# Builds the .deb bundle with the Tauri CLI (`cargo install tauri-cli --locked`).
#
# tauri.conf.json at the repository root is the one configuration; `cargo build` reads
# it through src-tauri/build.rs. The Tauri CLI, though, only accepts a configuration
# beside the app crate's Cargo.toml, with paths relative to that folder, so this script
# derives src-tauri/tauri.conf.json from the root file (paths rebased by "../"), runs
# the CLI there, and removes the derived file again. Edit only the root file.
#
#   bash scripts/bundle-deb.sh           release bundle
#   bash scripts/bundle-deb.sh --debug   debug build, bundled the same way (CI)
# The .deb lands in target/{release,debug}/bundle/deb/.
set -euo pipefail
cd "$(dirname "$0")/.."
derived=src-tauri/tauri.conf.json
trap 'rm -f "$derived"' EXIT
python3 - "$derived" <<'PY'
import json, sys
conf = json.load(open("tauri.conf.json"))
conf["build"]["frontendDist"] = "../" + conf["build"]["frontendDist"]
conf["build"].pop("beforeBuildCommand", None)
conf["build"].pop("beforeDevCommand", None)
conf["bundle"]["icon"] = ["../" + i for i in conf["bundle"]["icon"]]
deb = conf["bundle"]["linux"]["deb"]
deb["desktopTemplate"] = "../" + deb["desktopTemplate"]
json.dump(conf, open(sys.argv[1], "w"), indent=2)
PY
(cd ui && npm run build >/dev/null)
(cd src-tauri && cargo tauri build --bundles deb --ci "$@")
profile=release
for a in "$@"; do [ "$a" = "--debug" ] && profile=debug; done
deb=$(ls -t target/$profile/bundle/deb/*.deb | head -1)
# The bundle must register the link schemes and carry the app.
desktop=$(dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards 'usr/share/applications/*.desktop')
grep -q 'x-scheme-handler/masv' <<<"$desktop"
grep -q 'x-scheme-handler/inbound' <<<"$desktop"
grep -q '^Exec=inbound-desktop %u$' <<<"$desktop"
dpkg-deb --contents "$deb" | grep -q ' usr/bin/inbound-desktop$'
echo "built $deb"
