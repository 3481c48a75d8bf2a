//! The background agent's log file: `agentry.log` in the user's log directory
//! (`%LOCALAPPDATA%\agentry\logs` on Windows, `$XDG_STATE_HOME/agentry/logs` or
//! `~/.local/state/agentry/logs` elsewhere), rotated by size. The invariant: at most
//! [`KEPT`] older files (`agentry.log.1` newest … `agentry.log.N` oldest) plus the current one,
//! each at most [`MAX_BYTES`] (a line longer than that is a file of its own), so the logs never
//! hold more than `(KEPT + 1) × MAX_BYTES` plus one line. An agent in the foreground logs to its
//! standard error instead (under systemd, the journal).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The size at which the current file is rotated.
pub(crate) const MAX_BYTES: u64 = 1024 * 1024;
/// How many rotated files are kept.
pub(crate) const KEPT: u32 = 3;
/// The current file's name.
const NAME: &str = "agentry.log";

/// The user's log directory, whether or not it exists yet; `None` when the base it lives in
/// (`%LOCALAPPDATA%`; `$XDG_STATE_HOME`, else `$HOME`) is not set.
pub(crate) fn log_dir() -> Option<(PathBuf, PathBuf)> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let (anchor, base) = if cfg!(windows) {
        let local = var("LOCALAPPDATA")
            .or_else(|| directories::BaseDirs::new().map(|d| d.data_local_dir().to_owned()))?;
        (local.clone(), local)
    } else if let Some(state) = var("XDG_STATE_HOME") {
        (state.clone(), state)
    } else {
        let home = var("HOME")?;
        (home.clone(), home.join(".local").join("state"))
    };
    Some((anchor, base.join("agentry").join("logs")))
}

/// The current log file's path, as `agentry status` names it.
pub(crate) fn log_path() -> Option<PathBuf> {
    log_dir().map(|(_, dir)| dir.join(NAME))
}

/// A size-rotated log file, shared by every writer handed out.
#[derive(Clone)]
pub(crate) struct RotatingLog(Arc<Mutex<Current>>);

struct Current {
    dir: PathBuf,
    max_bytes: u64,
    kept: u32,
    file: Option<File>,
    size: u64,
}

impl RotatingLog {
    /// Opens the user's log (creating `agentry/logs` under an existing base directory, private
    /// to the user on Unix); `None` with the reason when it cannot.
    pub(crate) fn open_user_log() -> Result<Self, String> {
        let (anchor, dir) = log_dir().ok_or("no LOCALAPPDATA, XDG_STATE_HOME or HOME")?;
        if !anchor.is_dir() {
            return Err(format!("{} does not exist", anchor.display()));
        }
        create_private_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Self::open(&dir, MAX_BYTES, KEPT).map_err(|e| format!("{}: {e}", dir.display()))
    }

    /// Opens (appending to) `dir/agentry.log`, rotated at `max_bytes` with `kept` old files.
    pub(crate) fn open(dir: &Path, max_bytes: u64, kept: u32) -> io::Result<Self> {
        let mut current = Current {
            dir: dir.to_owned(),
            max_bytes,
            kept,
            file: None,
            size: 0,
        };
        current.reopen()?;
        Ok(Self(Arc::new(Mutex::new(current))))
    }
}

impl Current {
    fn path(&self, n: u32) -> PathBuf {
        if n == 0 {
            self.dir.join(NAME)
        } else {
            self.dir.join(format!("{NAME}.{n}"))
        }
    }

    fn reopen(&mut self) -> io::Result<()> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path(0))?;
        self.size = file.metadata()?.len();
        self.file = Some(file);
        Ok(())
    }

    /// agentry.log.(N-1) → .N, …, agentry.log → .1; the oldest is dropped.
    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        let _ = std::fs::remove_file(self.path(self.kept));
        for n in (0..self.kept).rev() {
            let from = self.path(n);
            if from.exists() {
                std::fs::rename(&from, self.path(n + 1))?;
            }
        }
        if self.kept == 0 {
            let _ = std::fs::remove_file(self.path(0));
        }
        self.reopen()
    }

    fn write_line(&mut self, buf: &[u8]) -> io::Result<()> {
        let len = buf.len() as u64;
        if self.size > 0 && self.size + len > self.max_bytes {
            self.rotate()?;
        }
        if let Some(file) = &mut self.file {
            file.write_all(buf)?;
            self.size += len;
        }
        Ok(())
    }
}

/// One event's writer: writes go to the current file, rotating it first when they would make
/// it too big.
pub(crate) struct LogWriter(RotatingLog);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut current = self.0 .0.lock().unwrap_or_else(|p| p.into_inner());
        current.write_line(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RotatingLog {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LogWriter(self.clone())
    }
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(dir: &Path) -> Vec<(String, u64)> {
        let mut files: Vec<(String, u64)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().into_string().unwrap(),
                    e.metadata().unwrap().len(),
                )
            })
            .collect();
        files.sort();
        files
    }

    #[test]
    fn files_rotate_by_size_and_only_the_newest_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let log = RotatingLog::open(dir.path(), 100, 2).unwrap();
        let mut writer = tracing_subscriber::fmt::MakeWriter::make_writer(&log);
        for i in 0..40 {
            writer
                .write_all(format!("line {i:02} ........\n").as_bytes())
                .unwrap();
        }
        // 40 lines of 17 bytes: 5 to a file; the current file and two older ones remain.
        let files = sizes(dir.path());
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["agentry.log", "agentry.log.1", "agentry.log.2"]);
        assert!(files.iter().all(|(_, size)| *size <= 100), "{files:?}");
        let current = std::fs::read_to_string(dir.path().join("agentry.log")).unwrap();
        assert!(current.ends_with("line 39 ........\n"), "{current}");
        let newest_old = std::fs::read_to_string(dir.path().join("agentry.log.1")).unwrap();
        assert!(newest_old.ends_with("line 34 ........\n"), "{newest_old}");
        let oldest = std::fs::read_to_string(dir.path().join("agentry.log.2")).unwrap();
        assert!(oldest.starts_with("line 25"), "{oldest}");
    }

    #[test]
    fn reopening_appends_and_counts_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("agentry.log"), [b'x'; 90]).unwrap();
        let log = RotatingLog::open(dir.path(), 100, 1).unwrap();
        let mut writer = tracing_subscriber::fmt::MakeWriter::make_writer(&log);
        writer.write_all(&[b'y'; 20]).unwrap();
        assert_eq!(
            sizes(dir.path()),
            [("agentry.log".into(), 20), ("agentry.log.1".into(), 90)]
        );
        // A line longer than the limit is a file of its own, never split.
        writer.write_all(&[b'z'; 150]).unwrap();
        assert_eq!(
            sizes(dir.path()),
            [("agentry.log".into(), 150), ("agentry.log.1".into(), 20)]
        );
    }
}
