//! Turning the untrusted names in a package listing into safe relative paths.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Suffix of a file while it downloads.
pub const PART_SUFFIX: &str = ".inbound-part";
const MAX_COMPONENT_BYTES: usize = 255 - PART_SUFFIX.len();

/// Which platform's file-name rules to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRules {
    Unix,
    MacOs,
    Windows,
}

impl NameRules {
    pub fn native() -> Self {
        if cfg!(windows) {
            Self::Windows
        } else if cfg!(target_os = "macos") {
            Self::MacOs
        } else {
            Self::Unix
        }
    }
}

/// Splits a sender's path on both separators and makes every component safe: no `..`,
/// no root or drive prefix, no control characters, no names the platform reserves.
/// Never returns an empty list.
pub fn sanitize_package_path(raw: &str, rules: NameRules) -> Vec<String> {
    let mut parts: Vec<String> = raw
        .split(['/', '\\'])
        .enumerate()
        .filter(|(i, c)| !(*i == 0 && is_drive(c)))
        .map(|(_, c)| c)
        .filter(|c| !matches!(c.trim(), "" | "." | ".."))
        .map(|c| sanitize_component(c, rules))
        .collect();
    if parts.is_empty() {
        parts.push("unnamed".into());
    }
    parts
}

/// Makes an untrusted name (a portal's, a package's) one safe folder name: separators
/// become `_`, so it can never reach outside the folder it is put in.
pub fn safe_folder_name(raw: &str, rules: NameRules) -> String {
    let flat: String = raw
        .chars()
        .map(|c| if matches!(c, '/' | '\\') { '_' } else { c })
        .collect();
    let flat = flat.trim();
    if matches!(flat, "" | "." | "..") {
        return "unnamed".into();
    }
    sanitize_component(flat, rules)
}

fn is_drive(c: &str) -> bool {
    let b = c.as_bytes();
    b.len() == 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

fn sanitize_component(c: &str, rules: NameRules) -> String {
    let mut s: String = c
        .chars()
        .map(|ch| match ch {
            '\0'..='\x1f' | '\x7f' => '_',
            '<' | '>' | ':' | '"' | '|' | '?' | '*' if rules == NameRules::Windows => '_',
            ':' if rules == NameRules::MacOs => '_',
            _ => ch,
        })
        .collect();
    if rules == NameRules::Windows {
        s = s.trim_end_matches(['.', ' ']).to_owned();
        if is_windows_reserved(&s) {
            s.insert(0, '_');
        }
    }
    if s.trim().is_empty() || s == "." || s == ".." {
        s = "_".into();
    }
    truncate_keeping_extension(&s, MAX_COMPONENT_BYTES)
}

fn is_windows_reserved(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or_default().trim_end();
    let upper = stem.to_ascii_uppercase();
    matches!(
        upper.as_str(),
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$"
    ) || ((upper.starts_with("COM") || upper.starts_with("LPT"))
        && stem.chars().count() == 4
        && stem
            .chars()
            .nth(3)
            .is_some_and(|d| matches!(d, '1'..='9' | '¹' | '²' | '³')))
}

fn truncate_keeping_extension(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let (stem, ext) = match s.rfind('.') {
        Some(i) if i > 0 && s.len() - i <= 16 => (&s[..i], &s[i..]),
        _ => (s, ""),
    };
    let mut cut = max.saturating_sub(ext.len());
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{}", &stem[..cut], ext)
}

/// How names are compared for collisions: as the most forgiving file system compares
/// them, case-insensitively and with Unicode normalised (NFC), whatever this platform's
/// rules. A destination on Linux may still fold case (exFAT, SMB, a casefolded ext4
/// folder) or normalise (macOS shares), and a delivery copied to an editor's Mac later
/// would collide there: the cost of folding is only a ` (1)` on names that differ by
/// case alone.
pub fn collision_key(path: &Path) -> String {
    use unicode_normalization::UnicodeNormalization;
    path.to_string_lossy()
        .nfc()
        .collect::<String>()
        .to_lowercase()
}

/// What other downloads hold in a folder, by [`collision_key`] of absolute paths: their
/// files (final and part names), and the folders those files go in (made only when
/// the download runs, so not on disk yet while it waits its turn).
#[derive(Debug, Default)]
pub struct Reserved {
    files: HashSet<String>,
    dirs: HashSet<String>,
}

impl Reserved {
    /// Holds a file at `rel` under `dst`, and every folder on the way to it.
    pub fn hold(&mut self, dst: &Path, rel: &Path) {
        let abs = dst.join(rel);
        self.files.insert(collision_key(&part_path(&abs)));
        self.files.insert(collision_key(&abs));
        for folder in rel.ancestors().skip(1) {
            if folder.as_os_str().is_empty() {
                break;
            }
            self.dirs.insert(collision_key(&dst.join(folder)));
        }
    }
}

/// Gives every file of a package its own relative path under the destination,
/// de-duplicating names that collide after sanitising, never choosing a path that
/// already exists on disk (so no existing file is ever overwritten), nor one another
/// download already holds ([`Reserved`]), nor the destination's ASC MHL history
/// folder (a package that carries its own `ascmhl/` keeps it under another name).
pub struct PathPlanner<'a> {
    dst: &'a Path,
    rules: NameRules,
    /// Absolute paths of files (final and part names) that are taken.
    reserved: HashSet<String>,
    /// Absolute paths of folders other downloads put files in: shared, never a file.
    reserved_dirs: HashSet<String>,
    /// Absolute paths of folders this plan puts files in.
    dirs: HashSet<String>,
}

impl<'a> PathPlanner<'a> {
    #[cfg(test)]
    pub fn new(dst: &'a Path, rules: NameRules) -> Self {
        Self::with_reserved(dst, rules, Reserved::default())
    }

    /// A planner that also avoids what other downloads hold.
    pub fn with_reserved(dst: &'a Path, rules: NameRules, others: Reserved) -> Self {
        let mut reserved = others.files;
        // The history Inbound writes for the destination: no package file goes in it.
        reserved.insert(collision_key(&dst.join(inbound_mhl::FOLDER)));
        Self {
            dst,
            rules,
            reserved,
            reserved_dirs: others.dirs,
            dirs: HashSet::new(),
        }
    }

    fn key(&self, parts: &[String]) -> String {
        collision_key(&self.dst.join(parts.iter().collect::<PathBuf>()))
    }

    /// Plans the path for one file given its raw package path.
    pub fn plan(&mut self, raw: &str) -> PathBuf {
        let mut parts = sanitize_package_path(raw, self.rules);
        let last = parts.len() - 1;
        for i in 0..last {
            let base = parts[i].clone();
            let mut n = 0;
            while self.dir_blocked(&parts[..=i]) {
                n += 1;
                parts[i] = numbered(&base, n, false);
            }
            let key = self.key(&parts[..=i]);
            self.dirs.insert(key);
        }
        let base = parts[last].clone();
        let mut n = 0;
        while self.file_blocked(&parts) {
            n += 1;
            parts[last] = numbered(&base, n, true);
        }
        let rel: PathBuf = parts.iter().collect();
        let abs = self.dst.join(&rel);
        self.reserved.insert(collision_key(&abs));
        self.reserved.insert(collision_key(&part_path(&abs)));
        rel
    }

    fn dir_blocked(&self, parts: &[String]) -> bool {
        let key = self.key(parts);
        if self.dirs.contains(&key) || self.reserved_dirs.contains(&key) {
            return false;
        }
        if self.reserved.contains(&key) {
            return true;
        }
        let on_disk = self.dst.join(parts.iter().collect::<PathBuf>());
        std::fs::symlink_metadata(&on_disk).is_ok_and(|m| !m.is_dir())
    }

    fn file_blocked(&self, parts: &[String]) -> bool {
        let abs = self.dst.join(parts.iter().collect::<PathBuf>());
        let part = part_path(&abs);
        let (key, part_key) = (collision_key(&abs), collision_key(&part));
        self.reserved.contains(&key)
            || self.reserved.contains(&part_key)
            || self.dirs.contains(&key)
            || self.reserved_dirs.contains(&key)
            || std::fs::symlink_metadata(&abs).is_ok()
            || std::fs::symlink_metadata(&part).is_ok()
    }
}

/// `name.ext` -> `name (n).ext` (files) or `name (n)` (folders).
pub(crate) fn numbered(base: &str, n: u32, keep_extension: bool) -> String {
    let (stem, ext) = match base.rfind('.') {
        Some(i) if keep_extension && i > 0 => (&base[..i], &base[i..]),
        _ => (base, ""),
    };
    let suffix = format!(" ({n}){ext}");
    let mut cut = MAX_COMPONENT_BYTES
        .saturating_sub(suffix.len())
        .min(stem.len());
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{}", &stem[..cut], suffix)
}

/// Where a file's bytes go while it downloads.
pub fn part_path(final_path: &Path) -> PathBuf {
    let mut s = final_path.as_os_str().to_owned();
    s.push(PART_SUFFIX);
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix(raw: &str) -> String {
        sanitize_package_path(raw, NameRules::Unix).join("/")
    }

    fn win(raw: &str) -> String {
        sanitize_package_path(raw, NameRules::Windows).join("/")
    }

    #[test]
    fn traversal_roots_and_drives_are_removed() {
        assert_eq!(unix("../../x"), "x");
        assert_eq!(unix("/etc/passwd"), "etc/passwd");
        assert_eq!(unix("C:\\x"), "x");
        assert_eq!(unix("a/./b/../c"), "a/b/c");
        assert_eq!(unix("..\\..\\win\\x.txt"), "win/x.txt");
        assert_eq!(unix(""), "unnamed");
        assert_eq!(unix("../.."), "unnamed");
        assert_eq!(unix("a\u{0}b\nc"), "a_b_c");
    }

    #[test]
    fn untrusted_names_make_one_folder_and_never_escape() {
        for (raw, want) in [
            ("../../.config/autostart", ".._.._.config_autostart"),
            ("/etc", "_etc"),
            ("..", "unnamed"),
            ("", "unnamed"),
            ("Editorial", "Editorial"),
            ("a\\b", "a_b"),
        ] {
            let got = safe_folder_name(raw, NameRules::Unix);
            assert_eq!(got, want, "{raw}");
            let joined = Path::new("/base").join(&got);
            assert_eq!(joined.parent(), Some(Path::new("/base")), "{raw}");
        }
        assert_eq!(safe_folder_name("CON", NameRules::Windows), "_CON");
    }

    #[test]
    fn windows_rules() {
        assert_eq!(win("CON.txt"), "_CON.txt");
        assert_eq!(win("lpt1"), "_lpt1");
        assert_eq!(win("COM²"), "_COM²");
        assert_eq!(win("console.txt"), "console.txt");
        assert_eq!(win("what?<>|*.mov"), "what_____.mov");
        assert_eq!(win("trailing. . "), "trailing");
        assert_eq!(win("..."), "_");
        assert_eq!(unix("CON.txt"), "CON.txt");
        assert_eq!(unix("what?.mov"), "what?.mov");
        assert_eq!(
            sanitize_package_path("a:b", NameRules::MacOs).join("/"),
            "a_b"
        );
    }

    #[test]
    fn long_names_are_cut_on_char_boundaries_keeping_the_extension() {
        let long = format!("{}.mov", "é".repeat(300));
        let out = unix(&long);
        assert!(out.len() <= MAX_COMPONENT_BYTES, "{}", out.len());
        assert!(out.ends_with(".mov"));
    }

    #[test]
    fn planner_deduplicates_collisions_and_existing_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("taken.txt"), b"mine").unwrap();
        std::fs::write(dir.path().join("folder"), b"a file named like a folder").unwrap();
        let mut p = PathPlanner::new(dir.path(), NameRules::Unix);
        assert_eq!(p.plan("a/b.txt"), PathBuf::from("a/b.txt"));
        assert_eq!(p.plan("a\\b.txt"), PathBuf::from("a/b (1).txt"));
        assert_eq!(p.plan("taken.txt"), PathBuf::from("taken (1).txt"));
        assert_eq!(p.plan("folder/x"), PathBuf::from("folder (1)/x"));
        assert_eq!(p.plan("a"), PathBuf::from("a (1)"));
        assert_eq!(p.plan("../../x"), PathBuf::from("x"));
        assert_eq!(p.plan("C:\\x"), PathBuf::from("x (1)"));
        let mut w = PathPlanner::new(dir.path(), NameRules::Windows);
        assert_eq!(w.plan("Read.me"), PathBuf::from("Read.me"));
        assert_eq!(w.plan("READ.ME"), PathBuf::from("READ (1).ME"));
    }

    #[test]
    fn names_held_by_other_downloads_are_avoided_whatever_their_case_or_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = PathPlanner::new(dir.path(), NameRules::Unix);
        let mut reserved = Reserved::default();
        for raw in ["Day 1/Clip.MOV", "Caf\u{e9}.wav"] {
            reserved.hold(dir.path(), &first.plan(raw));
        }
        let mut second = PathPlanner::with_reserved(dir.path(), NameRules::Unix, reserved);
        assert_eq!(
            second.plan("day 1/clip.mov"),
            PathBuf::from("day 1/clip (1).mov")
        );
        // The same name spelt with a combining accent (NFD, as macOS writes it).
        assert_eq!(
            second.plan("Cafe\u{301}.wav"),
            PathBuf::from("Cafe\u{301} (1).wav")
        );
        assert_eq!(second.plan("other.wav"), PathBuf::from("other.wav"));
        // Its folder is shared, never taken by a file; the history's name is no one's.
        assert_eq!(second.plan("DAY 1"), PathBuf::from("DAY 1 (1)"));
        assert_eq!(
            second.plan("Day 1/more.mov"),
            PathBuf::from("Day 1/more.mov")
        );
        assert_eq!(
            second.plan("ascmhl/ascmhl_chain.xml"),
            PathBuf::from("ascmhl (1)/ascmhl_chain.xml")
        );
        assert_eq!(second.plan("ASCMHL"), PathBuf::from("ASCMHL (2)"));
    }
}
