//! A stand-in for a studio's ingest command in the hook tests, on every platform (no
//! shell needed): `hook-probe OUT [fail CODE MESSAGE] FOLDER`. It writes what Inbound
//! gave it into the folder OUT (`summary.json` from its standard input, `folder.txt`
//! from its last argument), or, told to fail, says MESSAGE on standard error and exits
//! with CODE.

use std::io::Read;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [_, fail, code, message, _folder] if fail == "fail" => {
            eprintln!("{message}");
            ExitCode::from(code.parse::<u8>().unwrap_or(1))
        }
        [out, folder] => {
            let mut summary = Vec::new();
            let written = std::io::stdin()
                .read_to_end(&mut summary)
                .and_then(|_| std::fs::write(format!("{out}/summary.json"), &summary))
                .and_then(|()| std::fs::write(format!("{out}/folder.txt"), folder));
            match written {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("hook-probe: {e}");
                    ExitCode::from(2)
                }
            }
        }
        _ => {
            eprintln!("usage: hook-probe OUT [fail CODE MESSAGE] FOLDER");
            ExitCode::from(64)
        }
    }
}
