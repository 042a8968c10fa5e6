#!/usr/bin/env bash
# Inbound for Windows and macOS, built and checked on Debian 12 (x86_64) with Debian's
# packages alone:
#   windows  cross-builds the workspace for x86_64-pc-windows-gnu (the CLI, the desktop
#            app, every test binary; a warning in our code fails it) and runs the Rust
#            tests under Wine; the tests that cannot run there are listed, each with its
#            reason, in scripts/windows-skips.txt
#   installer  builds the Windows installer (packaging/windows/inbound.nsi, Debian's
#            makensis), lists its contents (7z), installs it silently under Wine, runs
#            the installed inbound.exe and checks the links it registered; then removes it
#   macos    type-checks and lints (clippy, warnings denied) every target of the
#            workspace for aarch64-apple-darwin (MACOS_TARGETS adds others, such as
#            x86_64-apple-darwin: our code has no cfg on the architecture, so CI checks
#            one and saves three minutes)
# Usage: scripts/windows.sh [windows] [installer] [macos] (default: all three; installer
# needs windows first). Exits non-zero when a build, a lint, a Windows test or an
# installer check fails. Installs what it needs (apt) when run as root.
#
# How: rustup cannot add targets without the network, so Debian's own compiler
# (rustc-web, with cargo-web and rust-web-clippy) rebuilds std for each target from its
# source (rust-web-src) with -Zbuild-std; mingw-w64 links Windows binaries; Wine runs
# them. No macOS SDK exists here: the C that build scripts compile for Apple targets
# goes to a stand-in compiler (a check never links).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PHASES=${*:-windows installer macos}
has() { [[ " $PHASES " == *" $1 "* ]]; }
WORK=${INBOUND_XPLAT_DIR:-$ROOT/target/xplat}
mkdir -p "$WORK"
t0=$SECONDS
step() { echo "== windows.sh: $1 (+$((SECONDS - t0)) s)"; }

step "packages"
pkgs=(rustc-web cargo-web rust-web-src rust-web-clippy gcc-mingw-w64-x86-64 wine64 nsis p7zip-full)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Debian's toolchain, never rustup's: rustup's proxies come first on PATH, and its
# compiler has no std source for other targets.
CARGO=/usr/bin/cargo
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
# cargo looks for `cargo-clippy` in ~/.cargo/bin first (rustup's): Debian's is run
# directly, with Debian's cargo under it.
CLIPPY=(env CARGO=$CARGO /usr/bin/cargo-clippy clippy)
export RUSTC_WRAPPER= RUSTC_WORKSPACE_WRAPPER=
# -Zbuild-std on a stable compiler (std is built from source for each target).
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="$WORK/target" CARGO_INCREMENTAL=0
# Cross builds are for running the tests, never for a debugger: no line tables (less to
# write and link in fifty binaries), and dependencies at opt-level 1 instead of 2 (the
# largest part of a cold build; the tests move a few megabytes at most).
export CARGO_PROFILE_DEV_DEBUG=false
DEPS_OPT=(--config 'profile.dev.package."*".opt-level=1')
BUILD_STD=(-Zbuild-std=std,panic_abort)
UNIFY=(-Zfeature-unification --config 'resolver.feature-unification="workspace"')
# The desktop app embeds the built UI; .ci/run builds it first. A bare page is enough
# to compile it where the UI was not built.
[ -f ui/dist/index.html ] || { mkdir -p ui/dist && echo '<!doctype html><title>Inbound</title>' > ui/dist/index.html; }

status=0
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=/usr/lib/wine/wine64
# No Mono or Gecko prompts: nothing here needs .NET or Internet Explorer's engine.
export WINEPREFIX="$WORK/wine" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
if has windows; then
  WIN=x86_64-pc-windows-gnu

  step "Windows: build the workspace, its tests and the desktop app (warnings denied)"
  build_log="$WORK/windows-build.log"
  # One command builds the programs (the installer's inbound.exe and inbound-desktop.exe:
  # every crate's tests need its binaries) and the tests, and the tests run on the same
  # build: their dependencies' features are the whole workspace's whichever packages a
  # command selects (UNIFY). A `cargo build` before a `cargo test --no-run`, or a test
  # run without the desktop app, built hundreds of dependencies a second time.
  $CARGO test --locked "${UNIFY[@]}" "${DEPS_OPT[@]}" "${BUILD_STD[@]}" --target $WIN \
    --workspace --exclude inbound-delayline --no-run 2>&1 | tee "$build_log"
  # A warning in our own code fails the build, as clippy -D warnings does on Linux and
  # macOS. (Clippy itself is not run for Windows: it would check the whole workspace a
  # second time, about 2.5 minutes of CI, for the few cfg(windows) lines.)
  warned=$(grep -E '^warning: `inbound[^`]*` \(' "$build_log" || true)
  if [ -n "$warned" ]; then
    echo "windows.sh: warnings in the Windows build:" >&2
    echo "$warned" >&2
    status=1
  fi

  step "Windows: a Wine prefix"
  if [ ! -f "$WINEPREFIX/system.reg" ]; then
    /usr/lib/wine/wine64 wineboot --init >/dev/null 2>&1
    /usr/lib/wine/wineserver -w
  fi
  # Wine 8.0 has no bcryptprimitives.dll (Wine 8.13 added it); Rust's std imports
  # ProcessPrng from it since 1.78. This one forwards to RtlGenRandom.
  shim="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
  if [ ! -f "$shim" ]; then
    x86_64-w64-mingw32-gcc -O2 -shared -o "$shim" scripts/wine/bcryptprimitives.c -ladvapi32
  fi
  /usr/lib/wine/wine64 "$CARGO_TARGET_DIR/$WIN/debug/inbound.exe" --version

  step "Windows: the tests under Wine (skipped, with why: scripts/windows-skips.txt)"
  sed 's/^/   | /' scripts/windows-skips.txt
  skips=()
  while IFS= read -r line; do
    name=${line%%#*}
    name=${name//[[:space:]]/}
    [ -z "$name" ] || skips+=(--skip "$name")
  done < scripts/windows-skips.txt
  # One test binary at a time, two tests at once in each (as many as the cores).
  if ! $CARGO test --locked "${UNIFY[@]}" "${DEPS_OPT[@]}" "${BUILD_STD[@]}" --target $WIN --workspace \
    --exclude inbound-desktop --exclude inbound-delayline --no-fail-fast \
    -- --test-threads 2 "${skips[@]}"; then
    echo "windows.sh: Windows tests failed under Wine" >&2
    status=1
  fi
fi

if has installer; then
  step "Windows: the installer"
  WIN=x86_64-pc-windows-gnu
  bin="$CARGO_TARGET_DIR/$WIN/debug"
  stage="$WORK/installer"
  rm -rf "$stage" && mkdir -p "$stage"
  cp "$bin/inbound-desktop.exe" "$bin/inbound.exe" "$stage/"
  # The GNU build of the window loads WebView2 through this DLL (webview2-com-sys
  # ships it); an MSVC build would link it statically.
  loader=$(find "$CARGO_TARGET_DIR/$WIN/debug/build" -path '*webview2-com-sys-*/out/x64/WebView2Loader.dll' | head -n 1)
  [ -n "$loader" ] || loader=$(find "${CARGO_HOME:-$HOME/.cargo}/registry/src" -path '*webview2-com-sys-*/x64/WebView2Loader.dll' | sort | tail -n 1)
  cp "$loader" "$stage/"
  version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
  setup="$WORK/Inbound_${version}_x64-setup.exe"
  makensis -V2 -DVERSION="$version" -DBIN_DIR="$stage" -DOUT_FILE="$setup" \
    -DICON="$ROOT/icons/icon.ico" packaging/windows/inbound.nsi
  listing=$(7z l "$setup")
  for f in inbound-desktop.exe inbound.exe WebView2Loader.dll; do
    grep -q " $f\$" <<<"$listing" || { echo "windows.sh: the installer lacks $f" >&2; status=1; }
  done
  echo "   $(du -h "$setup" | cut -f1) $setup"

  wine=/usr/lib/wine/wine64
  "$wine" "$setup" /S
  /usr/lib/wine/wineserver -w
  installed="$WINEPREFIX/drive_c/users/$(id -un)/AppData/Local/Programs/Inbound"
  if [ -x "$installed/inbound.exe" ] || [ -f "$installed/inbound.exe" ]; then
    "$wine" "$installed/inbound.exe" --version || status=1
  else
    echo "windows.sh: the silent install left no $installed/inbound.exe" >&2
    status=1
  fi
  for scheme in masv inbound; do
    opener=$("$wine" reg query "HKCU\\Software\\Classes\\$scheme\\shell\\open\\command" /ve 2>/dev/null | tr -d '\r')
    if grep -q 'inbound-desktop.exe' <<<"$opener"; then
      echo "   $scheme:// opens $(grep -o '"[^"]*inbound-desktop.exe"' <<<"$opener")"
    else
      echo "windows.sh: the installer did not register $scheme:// ($opener)" >&2
      status=1
    fi
  done
  "$wine" "$installed/uninstall.exe" /S
  /usr/lib/wine/wineserver -w
  # The uninstaller copies itself away and goes on from there: wait for it.
  for _ in $(seq 50); do [ -e "$installed/inbound.exe" ] || break; sleep 0.2; done
  if [ -e "$installed/inbound.exe" ]; then
    echo "windows.sh: the uninstaller left $installed/inbound.exe" >&2
    status=1
  fi
fi
[ -z "${WINEPREFIX:-}" ] || /usr/lib/wine/wineserver -k 2>/dev/null || true

if has macos; then
  # Probes (-E, --version) go to the host compiler, so cc-rs sees a gcc; a compile
  # (-c … -o OUT) writes an empty OUT, enough for a check that never links.
  stub="$WORK/apple-cc"
  cat > "$stub" <<'EOF'
#!/bin/sh
out=; prev=
for a in "$@"; do [ "$prev" = "-o" ] && out="$a"; prev="$a"; done
[ -z "$out" ] && exec cc "$@"
: > "$out"
EOF
  chmod +x "$stub"
  export MACOSX_DEPLOYMENT_TARGET=11.0
  for t in ${MACOS_TARGETS:-aarch64-apple-darwin}; do
    step "macOS ($t): check and lint every target (clippy, warnings denied)"
    tv=${t//-/_}
    export "CC_$tv=$stub" "CXX_$tv=$stub" "AR_$tv=ar"
    "${CLIPPY[@]}" --locked "${BUILD_STD[@]}" --target "$t" --workspace \
      --exclude inbound-delayline --all-targets -- -D warnings || status=1
  done
fi
step "done (status $status)"
exit $status
