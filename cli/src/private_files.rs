//! Reading a private-key file for `agentry add`, as ssh-add does: refuse a key file others can
//! read (OpenSSH's `sshkey_perm_ok` warning), read any format agentry-core knows (OpenSSH, PEM,
//! PKCS#8, …), try the empty passphrase silently, then ask up to three times. A key without a
//! comment (PEM and PKCS#8 hold none) is named by its file, as ssh-add names it.

use crate::passphrase::read_passphrase;
use agentry_core::keyfile::{KdfLimits, KeyFile, KeyFileError};
use agentry_core::keys::PrivateKey;
use agentry_platform::small_file::{read_small_file, KEY_FILE_LIMIT};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// How many passphrases are asked for before giving up.
const TRIES: usize = 3;

/// Reads, and if needed decrypts, the private key in `path`; returns it with its comment.
/// Errors name the file.
pub(crate) fn read_private_key(path: &Path) -> Result<(PrivateKey, String), String> {
    let keyfile = open(path)?;
    let loaded = decrypt(&keyfile, path, None)?;
    Ok((loaded.key, loaded.comment))
}

/// Reads a private key from standard input (`agentry add -`, as `ssh-add -`), at most
/// [`KEY_FILE_LIMIT`] bytes; it is named `(stdin)` and its passphrase cannot come from there.
pub(crate) fn read_private_key_from_stdin() -> Result<(PrivateKey, String), String> {
    use std::io::Read;
    let name = "(stdin)";
    crate::passphrase::mark_stdin_taken();
    let mut bytes = Zeroizing::new(Vec::new());
    std::io::stdin()
        .lock()
        .take(KEY_FILE_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{name}: {e}"))?;
    if bytes.len() as u64 > KEY_FILE_LIMIT {
        return Err(format!(
            "{name}: larger than {} KiB, far larger than any key",
            KEY_FILE_LIMIT / 1024
        ));
    }
    let keyfile = KeyFile::parse(&bytes).map_err(|e| describe(name, e))?;
    let loaded = decrypt(&keyfile, Path::new(name), None)?;
    Ok((loaded.key, loaded.comment))
}

/// A decrypted key file.
pub(crate) struct Loaded {
    pub(crate) key: PrivateKey,
    /// The key's comment, or the file's name when it has none.
    pub(crate) comment: String,
    /// The passphrase that decrypted it (none for an unencrypted file).
    pub(crate) passphrase: Option<Zeroizing<String>>,
    /// True when `first` (not the user) supplied that passphrase.
    pub(crate) from_first: bool,
}

/// Reads and parses the key file at `path`, refusing one others can read.
pub(crate) fn open(path: &Path) -> Result<KeyFile, String> {
    open_with_bytes(path).map(|(file, _)| file)
}

/// [`open`], also returning the bytes that were parsed (to send the file itself).
fn open_with_bytes(path: &Path) -> Result<(KeyFile, Zeroizing<Vec<u8>>), String> {
    let name = path.display().to_string();
    let (file, bytes) = read_key_file(path)?;
    let parsed = KeyFile::parse(&bytes);
    // A public key given by mistake is said to be one, whatever its (usual 0644) mode.
    if !matches!(parsed, Err(KeyFileError::PublicKeyOnly)) {
        check_permissions(&file, &name)?;
    }
    let parsed = parsed.map_err(|e| describe(&name, e))?;
    Ok((parsed, bytes))
}

/// The bytes of a key file (or its `.pub`, or certificate) if it is a regular file of at most
/// [`KEY_FILE_LIMIT`] bytes; the error names the file.
pub(crate) fn read_key_file(path: &Path) -> Result<(std::fs::File, Zeroizing<Vec<u8>>), String> {
    read_small_file(path, KEY_FILE_LIMIT).map_err(|e| format!("{}: {e}", path.display()))
}

/// Decrypts `keyfile` (read from `path`): with no passphrase if it needs none, else with
/// `first` if given and right, else with up to three asked from the user.
pub(crate) fn decrypt(
    keyfile: &KeyFile,
    path: &Path,
    first: Option<Zeroizing<String>>,
) -> Result<Loaded, String> {
    let name = path.display().to_string();
    let limits = KdfLimits::default();
    let attempt = |passphrase: &str| keyfile.decrypt(passphrase.as_bytes(), &limits);
    let mut found = None;
    if !keyfile.is_encrypted() {
        found = Some((attempt("").map_err(|e| describe(&name, e))?, None, false));
    }
    if let Some(first) = first.filter(|_| found.is_none()) {
        match attempt(&first) {
            Ok(key) => found = Some((key, Some(first), true)),
            Err(KeyFileError::WrongPassphrase) => {}
            Err(e) => return Err(describe(&name, e)),
        }
    }
    if found.is_none() {
        found = Some(match attempt("") {
            Ok(key) => (key, None, false),
            Err(KeyFileError::WrongPassphrase) => ask_and_decrypt(&attempt, &name)?,
            Err(e) => return Err(describe(&name, e)),
        });
    }
    let Some(((key, comment), passphrase, from_first)) = found else {
        return Err(describe(&name, KeyFileError::WrongPassphrase));
    };
    let comment = if comment.is_empty() { name } else { comment };
    Ok(Loaded {
        key,
        comment,
        passphrase,
        from_first,
    })
}

type Decrypted = (PrivateKey, String);

fn ask_and_decrypt(
    attempt: &dyn Fn(&str) -> Result<Decrypted, KeyFileError>,
    name: &str,
) -> Result<(Decrypted, Option<Zeroizing<String>>, bool), String> {
    let mut prompt = format!("Enter passphrase for {name}: ");
    for tried in 0..TRIES {
        let passphrase = read_passphrase(&prompt).map_err(|e| format!("{name}: {e}"))?;
        if passphrase.is_empty() {
            // As ssh-add: an empty answer stops asking.
            return Err(if tried == 0 {
                format!("{name}: no passphrase given (the answer was empty); the key is encrypted")
            } else {
                format!("{name}: incorrect passphrase, then an empty answer")
            });
        }
        match attempt(&passphrase) {
            Err(KeyFileError::WrongPassphrase) => {}
            other => {
                let decrypted = other.map_err(|e| describe(name, e))?;
                return Ok((decrypted, Some(passphrase), false));
            }
        }
        prompt = format!("Bad passphrase, try again for {name}: ");
    }
    Err(describe(name, KeyFileError::WrongPassphrase))
}

/// One line for the user, naming the file.
pub(crate) fn describe(name: &str, error: KeyFileError) -> String {
    match error {
        KeyFileError::WrongPassphrase => format!("{name}: incorrect passphrase"),
        KeyFileError::UnsupportedCipher(c) => format!("{name}: unsupported cipher {c}"),
        KeyFileError::PublicKeyOnly => {
            format!("{name}: is a public key; give the private key file")
        }
        other => format!("{name}: {other}"),
    }
}

/// Refuses a key file of ours that group or others may read or write, with OpenSSH's words.
#[cfg(unix)]
fn check_permissions(file: &std::fs::File, name: &str) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata().map_err(|e| format!("{name}: {e}"))?;
    let mode = meta.mode() & 0o777;
    if meta.uid() != agentry_platform::unix::peer::our_uid() || mode & 0o077 == 0 {
        return Ok(());
    }
    warn_too_open(&format!("Permissions 0{mode:03o} for '{name}'"));
    Err(format!(
        "{name}: mode 0{mode:03o} is too open (others may read it); `chmod 600 {name}` and add it again"
    ))
}

/// Refuses a key file others may open, by Win32-OpenSSH's rule and with its words.
#[cfg(windows)]
fn check_permissions(file: &std::fs::File, name: &str) -> Result<(), String> {
    agentry_platform::windows::file_access::check_private_file(file).map_err(|why| {
        warn_too_open(&format!("Permissions for '{name}'"));
        format!("{name}: others may open it ({why}); allow only your account and add it again")
    })
}

/// No permission check where neither applies.
#[cfg(not(any(unix, windows)))]
fn check_permissions(_file: &std::fs::File, _name: &str) -> Result<(), String> {
    Ok(())
}

/// OpenSSH's warning about a private key file others may open (`what` are too open).
#[cfg(any(unix, windows))]
fn warn_too_open(what: &str) {
    let bar = "@".repeat(59);
    eprintln!("{bar}");
    eprintln!("@         WARNING: UNPROTECTED PRIVATE KEY FILE!          @");
    eprintln!("{bar}");
    eprintln!("{what} are too open.");
    eprintln!("It is required that your private key files are NOT accessible by others.");
    eprintln!("This private key will be ignored.");
}

/// A key file to hand the agent still encrypted, with what it is listed under meanwhile.
pub(crate) struct HeldFile {
    pub(crate) file: KeyFile,
    /// The file's bytes as read and parsed (what is sent to the agent).
    pub(crate) bytes: Zeroizing<Vec<u8>>,
    /// The public key when the file does not show it (from `FILE.pub`).
    pub(crate) public: Option<ssh_key::public::KeyData>,
    /// The comment to list the key under while encrypted.
    pub(crate) comment: String,
}

impl HeldFile {
    /// The certificate next to the key file (`FILE-cert.pub`), to be listed too and decrypted
    /// with the key: `Ok(None)` when there is none, an error line when it certifies another key.
    pub(crate) fn certificate(
        &self,
        path: &Path,
    ) -> Result<Option<(PathBuf, ssh_key::Certificate)>, String> {
        let Some((cert_path, cert)) = crate::public_files::read_certificate_for(path) else {
            return Ok(None);
        };
        match self.public.as_ref().or(self.file.public_key()) {
            Some(key) if key != cert.public_key() => Err(format!(
                "{}: the certificate is not for the key in {}; not added",
                cert_path.display(),
                path.display()
            )),
            _ => Ok(Some((cert_path, cert))),
        }
    }
}

/// Reads and parses a key file, finding its public key without the passphrase.
pub(crate) fn read_held(path: &Path) -> Result<HeldFile, String> {
    let name = path.display();
    let (file, bytes) = open_with_bytes(path)?;
    let mut pub_path = path.as_os_str().to_owned();
    pub_path.push(".pub");
    let pub_file = crate::public_files::read_public_file(Path::new(&pub_path));
    if let (Some(shown), Some(public)) = (file.public_key(), &pub_file) {
        if shown != public.key_data() {
            return Err(format!("{name}: its .pub file is for another key"));
        }
    }
    if file.public_key().is_none() && pub_file.is_none() {
        return Err(format!(
            "{name}: an encrypted PEM file does not show its public key; put it next to the file as {name}.pub"
        ));
    }
    let comment = match &pub_file {
        _ if !file.comment().is_empty() => file.comment().to_owned(),
        Some(public) if !public.comment().is_empty() => public.comment().to_string(),
        _ => name.to_string(),
    };
    Ok(HeldFile {
        public: pub_file
            .filter(|_| file.public_key().is_none())
            .map(|p| p.key_data().clone()),
        file,
        bytes,
        comment,
    })
}
