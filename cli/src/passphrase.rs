//! Reading passphrases: from the terminal without echo when there is one (`rpassword`), else one
//! line from standard input, so scripts and tests can pipe it in.

use std::io::{BufRead, IsTerminal};
use zeroize::Zeroizing;

/// Asks for a passphrase with `prompt`.
pub(crate) fn read_passphrase(prompt: &str) -> Result<Zeroizing<String>, String> {
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(prompt)
            .map(Zeroizing::new)
            .map_err(|e| format!("cannot read passphrase: {e}"));
    }
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read passphrase from standard input: {e}"))?;
    let trimmed = line.trim_end_matches(['\n', '\r']).len();
    line.truncate(trimmed);
    Ok(line)
}
