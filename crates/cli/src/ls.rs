//! `inbound ls URL`: a package's files (size, MASV id, path) without downloading, with
//! what `--only`/`--exclude` would leave out, so patterns can be tried before a get.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use inbound_engine::{
    Engine, EngineConfig, EngineError, FileState, ListedFile, NameRules, PackageListing,
    human_bytes, sanitize_package_path,
};

use crate::args::{Pick, read_password};
use crate::output::explain_add_error;

#[derive(Args)]
pub struct LsArgs {
    /// The MASV download link (https://get.massive.app/...?secret=...).
    url: String,
    /// Read the link's password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
    #[command(flatten)]
    pick: Pick,
}

pub async fn run(args: LsArgs) -> ExitCode {
    match ls(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            crate::output::fail_line(&format!("{e:#}"));
            ExitCode::FAILURE
        }
    }
}

async fn ls(args: LsArgs) -> anyhow::Result<()> {
    let selection = args.pick.selection()?;
    let password = args.password_stdin.then(read_password).transpose()?;
    // Listing writes nothing that lasts: a data folder of its own, so it works beside
    // a running agent or desktop app (which hold the usual one).
    let scratch = tempfile::tempdir()?;
    let engine = Engine::open(EngineConfig::new(scratch.path())).await?;
    let listed = engine
        .list_package(&args.url, password, &selection)
        .await
        .map_err(|e| match e {
            // Said as `get` says it; listing does not wait for MASV to come back.
            EngineError::Masv(m) if m.is_transient() => anyhow::anyhow!(
                "{}; try again once MASV can be reached",
                m.unreachable_sentence()
            ),
            other => explain_add_error(other, args.password_stdin),
        });
    engine.shutdown().await;
    let text = render(&listed?, inbound_engine::unix_now());
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(())
}

fn render(listing: &PackageListing, now: i64) -> String {
    let p = &listing.preview;
    let safe = inbound_engine::terminal_safe;
    let mut out = safe(&p.name).to_string();
    if !p.sender_email.is_empty() {
        out.push_str(&format!(" — from {}", safe(&p.sender_email)));
    }
    let size = |s: Option<u64>| s.map_or_else(|| "—".to_owned(), human_bytes);
    out.push_str(&format!(
        " — {} of {} files to download, {}{}\n",
        p.file_count,
        listing.files.len(),
        human_bytes(p.total_bytes),
        if p.sizes_complete {
            ""
        } else {
            " (some sizes unknown)"
        }
    ));
    let id_width = listing
        .files
        .iter()
        .map(|f| f.id.chars().count())
        .max()
        .unwrap_or(2)
        .max(2);
    if let Some(at) = p.expires_at {
        // When the link stops working: what a person plans the download by.
        let left = inbound_engine::expires_in(at - now);
        let mut said = left.chars();
        let left = said
            .next()
            .map(|c| c.to_uppercase().chain(said).collect::<String>())
            .unwrap_or_default();
        out.push_str(&format!("{left} — {}\n", inbound_engine::local_moment(at)));
    }
    out.push_str(&format!("{:>10}  {:id_width$}  PATH\n", "SIZE", "ID"));
    for f in &listing.files {
        // Where it goes in the package's folder: a name that tried to leave the folder,
        // or that this system does not allow, is saved as the engine saves it.
        let saved = sanitize_package_path(&f.path, NameRules::native()).join("/");
        let sent_as = if saved == f.path {
            String::new()
        } else {
            format!("  (sent as \"{}\")", safe(&f.path))
        };
        out.push_str(&format!(
            "{:>10}  {:id_width$}  {}{sent_as}{}\n",
            size(f.size),
            safe(&f.id),
            safe(&saved),
            note(f)
        ));
    }
    out
}

/// Why a file would not be downloaded.
fn note(f: &ListedFile) -> &'static str {
    match f.state {
        FileState::Excluded => "  (not selected)",
        FileState::VirusWithheld => "  (flagged by MASV's virus scan; withheld)",
        FileState::Skipped => "  (archive of the whole package; its files are downloaded)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use inbound_engine::PackagePreview;

    use super::*;

    #[test]
    fn every_file_is_shown_with_its_id_and_why_some_are_left_out() {
        let file = |id: &str, path: &str, size, state| ListedFile {
            id: id.into(),
            path: path.into(),
            size,
            state,
        };
        let listing = PackageListing {
            preview: PackagePreview {
                name: "Day 2".into(),
                package_id: "p".into(),
                sender_email: "ed@example.com".into(),
                file_count: 1,
                total_bytes: 2048,
                sizes_complete: true,
                withheld: 1,
                expires_at: Some(1_000_000 + 9 * 86400 + 60),
            },
            files: vec![
                file("f1", "Day 1/A001.mov", Some(2048), FileState::Pending),
                file("f22", "notes.txt", None, FileState::Excluded),
                file("f3", "bad.exe", Some(10), FileState::VirusWithheld),
                file("f4", "../../../notes.txt", Some(180), FileState::Excluded),
            ],
        };
        let text = render(&listing, 1_000_000);
        let mut lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "Day 2 — from ed@example.com — 1 of 4 files to download, 2.0 KB"
        );
        assert!(
            lines.remove(1).starts_with("Expires in 9 days — "),
            "{text}"
        );
        assert_eq!(lines[1], "      SIZE  ID   PATH");
        assert_eq!(lines[2], "    2.0 KB  f1   Day 1/A001.mov");
        assert_eq!(lines[3], "         —  f22  notes.txt  (not selected)");
        assert!(lines[4].ends_with("bad.exe  (flagged by MASV's virus scan; withheld)"));
        // Shown where it will be, inside the package's folder, and how it was sent.
        assert_eq!(
            lines[5],
            "     180 B  f4   notes.txt  (sent as \"../../../notes.txt\")  (not selected)"
        );
    }
}
