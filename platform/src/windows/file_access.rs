//! Whether a private-key file is private, by Win32-OpenSSH's rule (its
//! `check_secure_file_permission`, which `ssh-add` applies on Windows): the file is owned by the
//! user, SYSTEM or the Administrators group, and its DACL allows access to nobody else. A null
//! DACL (everyone may do anything) or one that cannot be read fails the check. Entries that only
//! apply to objects created inside the file (inherit-only) and deny entries are not access.

use super::security::{current_user_sid, AclEntry, ObjectSecurity, SecurityDescriptor, Sid};
use std::os::windows::io::AsHandle;
use windows_sys::Win32::Security::Authorization::SE_FILE_OBJECT;

/// SYSTEM and the Administrators group: Win32-OpenSSH accepts them as owners and in the DACL.
const TRUSTED: &[&str] = &["S-1-5-18", "S-1-5-32-544"];

/// `Ok` when only the user, SYSTEM and Administrators may open `file`; else why not, in words
/// for the user.
pub fn check_private_file(file: &std::fs::File) -> Result<(), String> {
    let security = ObjectSecurity::read(file.as_handle(), SE_FILE_OBJECT)
        .map_err(|e| format!("its permissions cannot be read ({e})"))?;
    let user = current_user_sid().map_err(|e| format!("the current user is unknown ({e})"))?;
    let trusted: Vec<Sid> = TRUSTED
        .iter()
        .filter_map(|s| Sid::from_string_sid(s).ok())
        .collect();
    let owner = security
        .owner()
        .map_err(|e| format!("its owner cannot be read ({e})"))?;
    if owner != user && !trusted.contains(&owner) {
        return Err(format!("it is owned by {}", name(&owner)));
    }
    let entries = security
        .dacl_entries()
        .map_err(|e| format!("its access list cannot be read ({e})"))?
        .ok_or("it has no access list, so everyone may open it")?;
    match others_allowed(&entries, &user, &owner, &trusted) {
        Some(other) => Err(format!("{} may open it", name(other))),
        None => Ok(()),
    }
}

/// The first entry that lets someone other than the user, the owner, SYSTEM or Administrators
/// open the file.
fn others_allowed<'a>(
    entries: &'a [AclEntry],
    user: &Sid,
    owner: &Sid,
    trusted: &[Sid],
) -> Option<&'a Sid> {
    entries
        .iter()
        .filter(|e| e.allowed && !e.inherit_only && e.mask != 0)
        .map(|e| &e.sid)
        .find(|sid| *sid != user && *sid != owner && !trusted.contains(sid))
}

/// A SID with the name of the common groups that end up on key files by accident.
fn name(sid: &Sid) -> String {
    let text = sid.to_string_sid().unwrap_or_else(|_| format!("{sid:?}"));
    let known = match text.as_str() {
        "S-1-1-0" => "Everyone",
        "S-1-5-11" => "Authenticated Users",
        "S-1-5-32-545" => "Users",
        "S-1-5-4" => "Interactive users",
        _ => return text,
    };
    format!("{known} ({text})")
}

/// Writes `contents` to the new file `path`, which only the user, SYSTEM and Administrators
/// may open (what mode 0600 is on Unix): the file [`check_private_file`] accepts.
pub fn write_private_file(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let me = current_user_sid()?.to_string_sid()?;
    let descriptor =
        SecurityDescriptor::from_sddl(&format!("D:P(A;;FA;;;{me})(A;;FA;;;SY)(A;;FA;;;BA)"))?;
    descriptor.create_file(path)?.write_all(contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid(text: &str) -> Sid {
        Sid::from_string_sid(text).unwrap()
    }

    fn entry(allowed: bool, inherit_only: bool, who: &str) -> AclEntry {
        AclEntry {
            allowed,
            inherit_only,
            mask: 0x001f_01ff,
            sid: sid(who),
        }
    }

    #[test]
    fn only_entries_letting_someone_else_in_count() {
        let (user, owner) = (sid("S-1-5-21-1-2-3-1001"), sid("S-1-5-21-1-2-3-1002"));
        let trusted: Vec<Sid> = TRUSTED.iter().map(|s| sid(s)).collect();
        let fine = [
            entry(true, false, "S-1-5-21-1-2-3-1001"),
            entry(true, false, "S-1-5-21-1-2-3-1002"),
            entry(true, false, "S-1-5-18"),
            entry(true, false, "S-1-5-32-544"),
            entry(false, false, "S-1-1-0"),
            entry(true, true, "S-1-5-32-545"),
        ];
        assert_eq!(others_allowed(&fine, &user, &owner, &trusted), None);
        let everyone = [fine.as_slice(), &[entry(true, false, "S-1-1-0")]].concat();
        assert_eq!(
            others_allowed(&everyone, &user, &owner, &trusted),
            Some(&sid("S-1-1-0"))
        );
    }

    #[test]
    fn common_groups_are_named() {
        assert_eq!(name(&sid("S-1-1-0")), "Everyone (S-1-1-0)");
        assert_eq!(name(&sid("S-1-5-21-1-2-3-1001")), "S-1-5-21-1-2-3-1001");
    }
}
