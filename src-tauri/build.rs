fn main() {
    // The configuration lives at the repository root (the product's layout), not here.
    let attrs = tauri_build::Attributes::new();
    if let Err(e) = tauri_build::try_build(attrs.config_path("../tauri.conf.json")) {
        panic!("tauri build step failed: {e:#}");
    }
}
