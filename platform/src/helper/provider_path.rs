//! Provider libraries by path: the path resolved as `realpath` does (symbolic links, `.` and
//! `..`) and then checked against the allow-list, as OpenSSH's agent does before it loads a
//! PKCS#11 provider or security-key middleware; and the allow-list each OS starts with.
//! Invariant: only a path that resolved and matched is ever handed to a helper.

use agentry_core::{ProviderAllowList, ProviderError};

/// The allow-list when none is given: OpenSSH's `/usr/lib*/*,/usr/local/lib*/*` on Unix; on
/// Windows the system directory and the Program Files directories (from `%SystemRoot%`,
/// `%ProgramFiles%`, `%ProgramFiles(x86)%` and `%ProgramW6432%`), compared without regard to
/// case.
pub fn default_allow_list() -> ProviderAllowList {
    if cfg!(windows) {
        let var = |name: &str| std::env::var(name).unwrap_or_default();
        let root = std::env::var("SystemRoot").unwrap_or_else(|_| "C:\\Windows".into());
        let program_files = [
            var("ProgramFiles"),
            var("ProgramFiles(x86)"),
            var("ProgramW6432"),
        ];
        let dirs: Vec<&str> = program_files.iter().map(String::as_str).collect();
        ProviderAllowList::windows_default(&root, &dirs)
    } else {
        ProviderAllowList::unix_default()
    }
}

/// An allow-list from `-P`'s comma-separated patterns (case-insensitive on Windows).
pub fn allow_list(patterns: &str) -> ProviderAllowList {
    if cfg!(windows) {
        ProviderAllowList::ignoring_case(patterns)
    } else {
        ProviderAllowList::new(patterns)
    }
}

/// `provider` resolved, if the allow-list permits what it resolves to.
pub fn resolve_allowed(
    provider: &str,
    allowed: &ProviderAllowList,
) -> Result<String, ProviderError> {
    let resolved = resolve(provider)?;
    if allowed.permits(&resolved) {
        Ok(resolved)
    } else {
        Err(ProviderError::NotAllowed(resolved))
    }
}

/// `provider` resolved (it must exist), as a string; on Windows without the `\\?\` prefix
/// `canonicalize` adds, so that patterns are plain paths.
pub fn resolve(provider: &str) -> Result<String, ProviderError> {
    let resolved = std::fs::canonicalize(provider)
        .map_err(|e| ProviderError::Unresolvable(format!("{provider}: {e}")))?;
    let text = resolved
        .into_os_string()
        .into_string()
        .map_err(|_| ProviderError::Unresolvable(format!("{provider}: not valid Unicode")))?;
    Ok(match text.strip_prefix(r"\\?\UNC\") {
        Some(share) => format!(r"\\{share}"),
        None => text
            .strip_prefix(r"\\?\")
            .map(str::to_owned)
            .unwrap_or(text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_is_matched_by_what_it_points_to() {
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join("lib.so");
        std::fs::write(&lib, b"").unwrap();
        let lib = resolve(lib.to_str().unwrap()).unwrap();
        let only_lib = allow_list(&lib);
        assert_eq!(
            resolve_allowed(&lib, &only_lib),
            Ok(lib.clone()),
            "the file itself"
        );
        let dotted = format!(
            "{}/../{}/lib.so",
            dir.path().display(),
            dir.path().file_name().unwrap().to_str().unwrap()
        );
        assert_eq!(resolve_allowed(&dotted, &only_lib), Ok(lib.clone()));
        assert!(matches!(
            resolve_allowed(&lib, &default_allow_list()),
            Err(ProviderError::NotAllowed(_))
        ));
        assert!(matches!(
            resolve_allowed("/no/such/provider.so", &default_allow_list()),
            Err(ProviderError::Unresolvable(_))
        ));
        #[cfg(unix)]
        {
            let link = dir.path().join("link.so");
            std::os::unix::fs::symlink(&lib, &link).unwrap();
            let only_link = allow_list(link.to_str().unwrap());
            assert!(matches!(
                resolve_allowed(link.to_str().unwrap(), &only_link),
                Err(ProviderError::NotAllowed(p)) if p == lib
            ));
        }
    }

    #[cfg(windows)]
    #[test]
    fn windows_default_names_the_system_and_program_files_directories() {
        let list = default_allow_list();
        let root = std::env::var("SystemRoot").unwrap().to_ascii_lowercase();
        assert!(list.patterns().contains(&format!("{root}\\system32\\*")));
        assert!(list.permits(&format!("{root}\\System32\\opensc-pkcs11.dll")));
        assert!(!list.permits("C:\\Users\\Public\\evil.dll"));
    }
}
