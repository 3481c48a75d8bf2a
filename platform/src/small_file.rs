//! Reading the small files agentry is given by name — key files, public keys, certificates, the
//! config file — so that a wrong name cannot make it block or read without end. The invariant:
//! only a regular file is read, and never more than its limit (`KEY_FILE_LIMIT`, far above any
//! key). A FIFO is opened without blocking and refused before anything waits on it; `/dev/zero`,
//! a directory or a 10 MiB file are refused with a sentence that says why. Errors are plain
//! words: no `(os error N)` suffix ([`plain_io_error`]).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use zeroize::Zeroizing;

/// The most a key, public-key, certificate or config file may hold: 256 KiB, the agent
/// protocol's largest message. The largest key agentry accepts (RSA 16 384 bits) is about 13 KiB.
pub const KEY_FILE_LIMIT: u64 = 256 * 1024;

/// Why a small file was not read. `Display` names neither the file nor an OS error number; the
/// caller puts the name in front.
#[derive(Debug)]
pub enum SmallFileError {
    /// It could not be opened or read.
    Io(io::Error),
    /// It is not a regular file (a directory, a device, a FIFO, a socket).
    NotRegular(&'static str),
    /// It is larger than `limit` bytes.
    TooLarge { limit: u64 },
}

impl SmallFileError {
    /// True when the file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Io(e) if e.kind() == io::ErrorKind::NotFound)
    }
}

impl core::fmt::Display for SmallFileError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Io(e) => f.write_str(&plain_io_error(e)),
            Self::NotRegular(kind) => write!(f, "not a regular file ({kind})"),
            Self::TooLarge { limit } => write!(
                f,
                "larger than {} KiB, far larger than any key or config file",
                limit / 1024
            ),
        }
    }
}

impl std::error::Error for SmallFileError {}

/// An OS error in plain words: `No such file or directory`, not `… (os error 2)`.
pub fn plain_io_error(e: &io::Error) -> String {
    let text = e.to_string();
    match (e.raw_os_error(), text.rfind(" (os error ")) {
        (Some(_), Some(at)) => text[..at].to_owned(),
        _ => text,
    }
}

/// Opens `path` and reads it whole if it is a regular file of at most `limit` bytes. Returns the
/// open file too (for permission checks on what was actually read).
pub fn read_small_file(
    path: &Path,
    limit: u64,
) -> Result<(File, Zeroizing<Vec<u8>>), SmallFileError> {
    let file = open_nonblocking(path).map_err(SmallFileError::Io)?;
    let meta = file.metadata().map_err(SmallFileError::Io)?;
    if !meta.is_file() {
        return Err(SmallFileError::NotRegular(kind_of(&meta)));
    }
    if meta.len() > limit {
        return Err(SmallFileError::TooLarge { limit });
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(meta.len() as usize));
    // The file may grow between the check and the read: never take more than the limit.
    (&file)
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(SmallFileError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(SmallFileError::TooLarge { limit });
    }
    Ok((file, bytes))
}

/// [`read_small_file`] as UTF-8 text (a file that is not text is an `InvalidData` error).
pub fn read_small_text(path: &Path, limit: u64) -> Result<Zeroizing<String>, SmallFileError> {
    let (_, bytes) = read_small_file(path, limit)?;
    match core::str::from_utf8(&bytes) {
        Ok(text) => Ok(Zeroizing::new(text.to_owned())),
        Err(_) => Err(SmallFileError::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            "not UTF-8 text",
        ))),
    }
}

/// Opens for reading without waiting for a FIFO's writer (Unix: `O_NONBLOCK`, which regular
/// files ignore).
#[cfg(unix)]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    File::open(path)
}

#[cfg(unix)]
fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

#[cfg(not(unix))]
fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    if meta.is_dir() {
        "a directory"
    } else {
        "a device or pipe"
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_small_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'x'; 10 << 20]).unwrap();
        let small = dir.path().join("small");
        std::fs::write(&small, b"key").unwrap();
        let cases: [(&Path, &str); 4] = [
            (Path::new("/dev/zero"), "not a regular file (a device)"),
            (dir.path(), "not a regular file (a directory)"),
            (&fifo, "not a regular file (a FIFO)"),
            (
                &big,
                "larger than 256 KiB, far larger than any key or config file",
            ),
        ];
        for (path, said) in cases {
            let e = read_small_file(path, KEY_FILE_LIMIT).unwrap_err();
            assert_eq!(e.to_string(), said, "{}", path.display());
        }
        assert_eq!(&*read_small_file(&small, KEY_FILE_LIMIT).unwrap().1, b"key");
        let missing = read_small_file(&dir.path().join("none"), KEY_FILE_LIMIT).unwrap_err();
        assert!(missing.is_not_found());
        assert_eq!(missing.to_string(), "No such file or directory");
    }
}
