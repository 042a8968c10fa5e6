//! `--then-run` and `--then-post`: what runs after each package completes, for this run
//! only, in place of the saved hooks (set through the agent API), which stay saved.

use clap::Args;
use inbound_engine::AfterDownload;

#[derive(Args, Clone, Default)]
pub struct WhenDone {
    /// Run this after each package completes (quoted like a shell line, run without a
    /// shell): the package folder is added as its last argument and a JSON summary of
    /// the package (files, hashes; never the link) goes to its standard input. A
    /// failure is reported; the package stays complete.
    #[arg(long, value_name = "COMMAND", value_parser = parse_command)]
    then_run: Option<Vec<String>>,
    /// POST the JSON summary to this URL on this machine after each package completes.
    #[arg(long, value_name = "URL")]
    then_post: Option<String>,
}

impl WhenDone {
    /// The hooks the flags give; `None` without any (the saved ones apply).
    pub fn hooks(&self) -> anyhow::Result<Option<AfterDownload>> {
        let hooks = AfterDownload {
            run: self.then_run.clone().unwrap_or_default(),
            post_url: self.then_post.clone(),
        };
        if hooks.is_empty() {
            return Ok(None);
        }
        hooks.validate()?;
        Ok(Some(hooks))
    }
}

fn parse_command(s: &str) -> Result<Vec<String>, String> {
    match shlex::split(s) {
        Some(words) if !words.is_empty() => Ok(words),
        Some(_) => Err("the command is empty; name a program to run".into()),
        None => Err(format!("'{s}' has an unclosed quote")),
    }
}
