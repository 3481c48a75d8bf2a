//! OpenSSH's host and user name patterns (`match_pattern`): `*` and `?` wildcards. A leaf module:
//! known_hosts names, host certificates' principals and destination constraints all match with it.

/// `*` and `?` wildcards, as OpenSSH's `match_pattern` (pattern first). Iterative, with one
/// backtrack point, so a hostile pattern costs at most pattern × text steps.
pub(crate) fn match_pattern(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    star = Some((sp, st + 1));
                    p = sp + 1;
                    t = st + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
}
