//! Key lifetimes as ssh-add and ssh-agent take them (`sshd_config(5)` TIME FORMATS): a number of
//! seconds, or a sequence like `1h30m` with units s, m, h, d, w.

use std::time::Duration;

/// Parses `spec` (`600`, `10m`, `1h30m`, `2d`) into a duration of at least one second.
pub(crate) fn parse_lifetime(spec: &str) -> Result<Duration, String> {
    let invalid = || {
        format!("{spec:?} is not a lifetime: give seconds, or a number with units s m h d w, e.g. 1h30m")
    };
    if spec.trim().is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in spec.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(invalid()),
        };
        let n: u64 = digits.parse().map_err(|_| invalid())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(invalid)?;
        digits.clear();
    }
    if !digits.is_empty() {
        let n: u64 = digits.parse().map_err(|_| invalid())?;
        total = total.checked_add(n).ok_or_else(invalid)?;
    }
    if total == 0 {
        return Err(format!(
            "{spec:?}: a lifetime is at least 1 second (leave it out to keep keys until removed)"
        ));
    }
    if total > u64::from(u32::MAX) {
        return Err(format!(
            "{spec:?}: a lifetime is at most {} seconds (about 136 years)",
            u32::MAX
        ));
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::parse_lifetime;

    #[test]
    fn accepts_seconds_and_units() {
        assert_eq!(parse_lifetime("60").unwrap().as_secs(), 60);
        assert_eq!(parse_lifetime("1h30m").unwrap().as_secs(), 5400);
        assert_eq!(parse_lifetime("2d").unwrap().as_secs(), 172_800);
        assert_eq!(parse_lifetime("1w1s").unwrap().as_secs(), 604_801);
    }

    #[test]
    fn rejects_garbage_zero_and_overflow() {
        for bad in ["", "0", "1x", "h", "99999999999999999999", "5000000000"] {
            assert!(parse_lifetime(bad).is_err(), "{bad:?} accepted");
        }
    }
}
