//! Asking for a link's password on a terminal, as `ssh` and `sudo` do: not shown as it
//! is typed, and never in the command line or the shell's history.

use std::io::IsTerminal;

use inbound_engine::Secret;

/// Tries before giving up, as `sudo` allows.
pub(crate) const TRIES: usize = 3;

/// Whether a person is at a terminal to ask.
pub(crate) fn can_ask() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Asks for the password; `wrong`: the last one MASV refused.
pub(crate) fn password(wrong: bool) -> anyhow::Result<Secret> {
    let term = console::Term::stderr();
    if wrong {
        term.write_line("Wrong password for this link; check it with the sender.")?;
    }
    term.write_str("Password for this link (not shown as you type): ")?;
    let typed = term.read_secure_line()?;
    if typed.is_empty() {
        anyhow::bail!("no password typed; nothing was downloaded");
    }
    Ok(Secret::new(typed))
}
