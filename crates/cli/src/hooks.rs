//! `--then-run` and `--then-post`: what runs after each package completes, for this run
//! only, in place of the saved hooks (set through the agent API), which stay saved.

use clap::Args;
use inbound_engine::AfterDownload;

#[derive(Args, Clone, Default)]
pub struct HookFlags {
    /// Run this after each package completes (quoted like a shell line, or on Windows
    /// like a Windows command line, and run without a shell: name one for pipes or
    /// scripts, `sh -c '…'` or `cmd /C …`): the package folder is added as its last
    /// argument and a JSON summary of the package (files, hashes; never the link) goes
    /// to its standard input. A failure is reported; the package stays complete.
    #[arg(long, value_name = "COMMAND", value_parser = parse_command)]
    then_run: Option<CommandLine>,
    /// POST the JSON summary to this URL on this machine after each package completes.
    #[arg(long, value_name = "URL")]
    then_post: Option<String>,
}

/// A program and its arguments, split from one `--then-run` value. (A type of its own:
/// clap reads an `Option<Vec<_>>` field as a flag given many times, and its words would
/// not be where it looks for them.)
#[derive(Clone, Debug)]
struct CommandLine(Vec<String>);

impl HookFlags {
    /// The hooks the flags give; `None` without any (the saved ones apply).
    pub fn for_engine(&self) -> anyhow::Result<Option<AfterDownload>> {
        let hooks = AfterDownload {
            run: self.then_run.clone().map(|c| c.0).unwrap_or_default(),
            post_url: self.then_post.clone(),
        };
        if hooks.is_empty() {
            return Ok(None);
        }
        hooks.validate()?;
        Ok(Some(hooks))
    }
}

fn parse_command(s: &str) -> Result<CommandLine, String> {
    match split_command_line(s) {
        Some(words) if !words.is_empty() => Ok(CommandLine(words)),
        Some(_) => Err("the command is empty; name a program to run".into()),
        None => Err(format!("'{s}' has an unclosed quote")),
    }
}

/// Words as a POSIX shell would split them (quotes, backslash escapes).
#[cfg(not(windows))]
fn split_command_line(s: &str) -> Option<Vec<String>> {
    shlex::split(s)
}

/// Words as Windows programs split their command line (`CommandLineToArgvW`): a
/// backslash is a path separator, not an escape, so `C:\Tools\ingest.exe` stays whole.
/// An odd number of quotes is refused (Windows would read to the end of the line).
#[cfg(windows)]
fn split_command_line(s: &str) -> Option<Vec<String>> {
    // A quote after an odd number of backslashes is a literal one.
    let (mut open, mut backslashes) = (false, 0);
    for c in s.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' if backslashes % 2 == 0 => {
                open = !open;
                backslashes = 0;
            }
            _ => backslashes = 0,
        }
    }
    (!open).then(|| winsplit::split(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        hooks: HookFlags,
    }

    /// `--then-run` once made clap panic ("Mismatch between definition and access"):
    /// a command that parsed could never be used.
    #[test]
    fn then_run_gives_the_command_to_run() {
        let flags = Flags::try_parse_from(["inbound", "--then-run", "ingest --fast"]).unwrap();
        let hooks = flags.hooks.for_engine().unwrap().unwrap();
        assert_eq!(hooks.run, ["ingest", "--fast"]);
        let none = Flags::try_parse_from(["inbound"]).unwrap();
        assert!(none.hooks.for_engine().unwrap().is_none());
    }

    #[test]
    fn a_command_line_is_split_as_this_platform_quotes_it() {
        assert_eq!(
            parse_command("ingest --fast 'two words'").unwrap().0,
            if cfg!(windows) {
                vec!["ingest", "--fast", "'two", "words'"]
            } else {
                vec!["ingest", "--fast", "two words"]
            }
        );
        assert_eq!(
            parse_command(r#""C:\Program Files\Ingest\ingest.exe" D:\Rushes"#)
                .unwrap()
                .0,
            if cfg!(windows) {
                vec![r"C:\Program Files\Ingest\ingest.exe", r"D:\Rushes"]
            } else {
                // POSIX: a backslash escapes the next character.
                vec![r"C:\Program Files\Ingest\ingest.exe", "D:Rushes"]
            }
        );
        assert!(parse_command("ingest \"unclosed").is_err());
        assert!(parse_command("   ").is_err());
    }
}
