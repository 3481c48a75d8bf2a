//! Which provider libraries the agent may load (`agentry start -P`, OpenSSH's `ssh-agent -P`):
//! a comma-separated list of OpenSSH patterns matched against the library's resolved path. The
//! platform resolves the path (symbolic links, `..`) before asking, so a link in an allowed
//! directory cannot bring in a library from elsewhere. Invariant: a path is permitted only when
//! some pattern matches it and no `!pattern` does (OpenSSH's `match_pattern_list(...) == 1`).

use crate::pattern::{match_pattern_list, ListMatch};

/// OpenSSH's default allow-list on Unix: the system library directories.
pub const UNIX_DEFAULT_PROVIDERS: &str = "/usr/lib*/*,/usr/local/lib*/*";

/// Provider libraries the agent may load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderAllowList {
    patterns: String,
    /// Windows paths compare without regard to case.
    ignore_case: bool,
}

impl ProviderAllowList {
    /// A case-sensitive list (Unix paths).
    pub fn new(patterns: impl Into<String>) -> Self {
        Self {
            patterns: patterns.into(),
            ignore_case: false,
        }
    }

    /// A list whose patterns and paths compare without regard to ASCII case (Windows paths).
    pub fn ignoring_case(patterns: impl Into<String>) -> Self {
        Self {
            patterns: patterns.into().to_ascii_lowercase(),
            ignore_case: true,
        }
    }

    /// OpenSSH's default on Unix ([`UNIX_DEFAULT_PROVIDERS`]).
    pub fn unix_default() -> Self {
        Self::new(UNIX_DEFAULT_PROVIDERS)
    }

    /// The Windows default: everything under the system directory (`%SystemRoot%\System32`)
    /// and under each Program Files directory given (`%ProgramFiles%`, `%ProgramFiles(x86)%`),
    /// which only administrators can write to.
    pub fn windows_default(system_root: &str, program_files: &[&str]) -> Self {
        let mut dirs = vec![format!("{}\\System32", system_root.trim_end_matches('\\'))];
        dirs.extend(
            program_files
                .iter()
                .filter(|d| !d.is_empty())
                .map(|d| d.trim_end_matches('\\').to_owned()),
        );
        let patterns: Vec<String> = dirs.iter().map(|d| format!("{d}\\*")).collect();
        Self::ignoring_case(patterns.join(","))
    }

    /// The patterns, as given (lower-cased for a case-insensitive list).
    pub fn patterns(&self) -> &str {
        &self.patterns
    }

    /// True when `resolved_path` (already resolved by the caller) may be loaded.
    pub fn permits(&self, resolved_path: &str) -> bool {
        let text = if self.ignore_case {
            resolved_path.to_ascii_lowercase()
        } else {
            resolved_path.to_owned()
        };
        match_pattern_list(text.as_bytes(), self.patterns.as_bytes()) == ListMatch::Positive
    }
}

impl Default for ProviderAllowList {
    fn default() -> Self {
        Self::unix_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_default_allows_system_library_directories_only() {
        let list = ProviderAllowList::unix_default();
        assert!(list.permits("/usr/lib/softhsm/libsofthsm2.so"));
        assert!(list.permits("/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"));
        assert!(list.permits("/usr/local/lib/libykcs11.so"));
        assert!(!list.permits("/tmp/libsofthsm2.so"));
        assert!(!list.permits("/home/u/usr/lib/x.so"));
        assert!(!list.permits("/USR/LIB/x.so"));
    }

    #[test]
    fn negation_wins() {
        let list = ProviderAllowList::new("/usr/lib/*,!/usr/lib/bad.so");
        assert!(list.permits("/usr/lib/good.so"));
        assert!(!list.permits("/usr/lib/bad.so"));
    }

    #[test]
    fn windows_default_allows_system_and_program_files_ignoring_case() {
        let list = ProviderAllowList::windows_default(
            "C:\\Windows",
            &["C:\\Program Files", "C:\\Program Files (x86)\\", ""],
        );
        assert_eq!(
            list.patterns(),
            "c:\\windows\\system32\\*,c:\\program files\\*,c:\\program files (x86)\\*"
        );
        assert!(list.permits("C:\\Windows\\System32\\opensc-pkcs11.dll"));
        assert!(list.permits("c:\\program files\\Yubico\\libykcs11.dll"));
        assert!(list.permits("C:\\PROGRAM FILES (X86)\\OpenSC\\opensc-pkcs11.dll"));
        assert!(!list.permits("C:\\Users\\u\\Downloads\\evil.dll"));
        assert!(!list.permits("C:\\Windows\\Temp\\evil.dll"));
    }
}
