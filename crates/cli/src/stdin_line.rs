//! One line of standard input: how a secret (a link, a password, an API key) reaches
//! the CLI without appearing in the list of processes.

use std::io::BufRead;

use anyhow::Context;

/// The next line of standard input without its line ending; `what` names it for the
/// error ("the link", "the password").
pub fn read(what: &str) -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .with_context(|| format!("cannot read {what} from standard input"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
