//! The engine's layers (see `# Layout` in `src/lib.rs`): a module imports from its own
//! layer and those below it, never from one above. Read from the `crate::` paths in the
//! source, so a move that breaks the order fails here, naming the edge.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Bottom to top. A file's module is its folder under `src/` (`run/worker.rs` is in
/// `run`) or its stem; each module is in the layer that lists it. Modules of one layer
/// may import each other; no import goes up, without exception.
const LAYERS: &[(&str, &[&str])] = &[
    ("sync", &["sync"]),
    ("model", &["model"]),
    ("transfer", &["transfer"]),
    ("hooks", &["hooks"]),
    ("config", &["config", "error", "logging"]),
    ("store", &["store"]),
    ("download", &["download"]),
    ("run", &["run"]),
    ("engine", &["engine", "lib"]),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
}

/// The module a source file belongs to: its first folder under `src/`, or its stem.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap_or(file);
    let first = rel
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    first.strip_suffix(".rs").unwrap_or(&first).to_owned()
}

/// The source with its comments left out (doc links name modules without importing).
fn code_of(text: &str) -> String {
    text.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules a source names through `crate::`: `use crate::a::b;`,
/// `use crate::{a, b::{c, d}};` and paths in code (`crate::a::f()`).
fn modules_named(text: &str) -> BTreeSet<String> {
    let code = code_of(text);
    let mut named = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let Some(group) = rest.strip_prefix('{') else {
            named.insert(leading_name(rest));
            continue;
        };
        // The group's top-level items, each starting with a module name.
        let mut depth = 0;
        let mut item_start = Some(0);
        for (i, ch) in group.char_indices() {
            match ch {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => item_start = Some(i + 1),
                _ => {}
            }
            if let Some(start) = item_start.take() {
                named.insert(leading_name(&group[start..]));
            }
        }
    }
    named.retain(|name| !name.is_empty() && name != "self");
    named
}

fn leading_name(text: &str) -> String {
    text.trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap();
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// Every import from a module to one in a higher layer, as "from -> to".
fn upward_imports(src: &Path) -> BTreeSet<String> {
    let mut files = Vec::new();
    sources(src, &mut files);
    let mut upward = BTreeSet::new();
    let mut unplaced = BTreeSet::new();
    for file in files {
        let from = module_of(src, &file);
        let Some(from_layer) = layer_of(&from) else {
            unplaced.insert(from);
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for to in modules_named(&text) {
            match layer_of(&to) {
                Some(to_layer) if to_layer > from_layer => {
                    upward.insert(format!("{from} -> {to}"));
                }
                Some(_) => {}
                None => {
                    unplaced.insert(to);
                }
            }
        }
    }
    assert!(
        unplaced.is_empty(),
        "modules in no layer: {unplaced:?}: put each in LAYERS (tests/layers.rs); a path \
         through the crate root (`crate::Name`) hides its module: name the module"
    );
    upward
}

#[test]
fn no_module_imports_from_a_layer_above_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let upward = upward_imports(&src);
    assert!(
        upward.is_empty(),
        "imports from a lower layer to a higher one: {upward:#?}\nlayers, bottom to top: {:?}",
        LAYERS.iter().map(|(name, _)| name).collect::<Vec<_>>()
    );
}

#[test]
fn imports_are_read_from_every_form_of_use() {
    let text = "use crate::a::b;\nuse crate::{c, d::{e, f}, g::*};\n\
                use crate::{\n    h::i,\n    j,\n};\nfn x() { crate::k::l(); }\n\
                // crate::m in a comment\n";
    let names: Vec<_> = modules_named(text).into_iter().collect();
    assert_eq!(names, ["a", "c", "d", "g", "h", "j", "k"]);
}
