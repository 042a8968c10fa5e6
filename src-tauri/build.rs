include!("app_commands.rs");

fn main() {
    // The configuration lives at the repository root (the product's layout), not here.
    // Listing the app's commands turns on access control for them: the window may call
    // only those its capability allows.
    let attrs = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(APP_COMMANDS));
    if let Err(e) = tauri_build::try_build(attrs.config_path("../tauri.conf.json")) {
        panic!("tauri build step failed: {e:#}");
    }
}
