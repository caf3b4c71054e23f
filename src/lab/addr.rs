//! Host addresses: host i (1-based) listens on base + i, always inside 127.0.0.0/8.

use std::net::Ipv4Addr;

use super::LabError;

/// The default base: h1 = 127.0.0.11.
pub const DEFAULT_BASE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 10);

/// Most hosts one lab can have (last octet from base + 1 up to 254).
pub const MAX_HOSTS: usize = 254;

/// Parses and checks `--base`: a loopback address (127.0.0.0/8) and room for `count` hosts
/// without the last octet going past 254.
pub fn parse_base(text: &str, count: usize) -> Result<Ipv4Addr, LabError> {
    let base: Ipv4Addr = text.trim().parse().map_err(|_| LabError::BadBase {
        base: text.to_string(),
        reason: "not an IPv4 address (expected something like 127.0.0.10)".into(),
    })?;
    check_base(base, count)?;
    Ok(base)
}

/// Checks a base address for `count` hosts.
pub fn check_base(base: Ipv4Addr, count: usize) -> Result<(), LabError> {
    if count == 0 {
        return Err(LabError::BadCount {
            count,
            reason: "need at least one host".into(),
        });
    }
    if count > MAX_HOSTS {
        return Err(LabError::BadCount {
            count,
            reason: format!("at most {MAX_HOSTS} hosts"),
        });
    }
    let o = base.octets();
    if o[0] != 127 {
        return Err(LabError::BadBase {
            base: base.to_string(),
            reason: "only loopback addresses (127.0.0.0/8) are allowed".into(),
        });
    }
    let last = usize::from(o[3]) + count;
    if last > 254 {
        return Err(LabError::BadBase {
            base: base.to_string(),
            reason: format!(
                "{count} hosts need addresses up to {}.{}.{}.{last}: the last octet must stay \
                 at most 254 (pick a lower base)",
                o[0], o[1], o[2]
            ),
        });
    }
    Ok(())
}

/// Address of host `index` (1-based). The base must have passed [`check_base`].
pub fn host_addr(base: Ipv4Addr, index: usize) -> Ipv4Addr {
    let o = base.octets();
    // check_base keeps o[3] + index <= 254.
    let last = u8::try_from(usize::from(o[3]) + index).unwrap_or(u8::MAX);
    Ipv4Addr::new(o[0], o[1], o[2], last)
}

/// Name of host `index` (1-based): h1, h2...
pub fn host_name(index: usize) -> String {
    format!("h{index}")
}

/// Index of a host name (`h3` -> 3).
pub fn host_index(name: &str) -> Option<usize> {
    name.strip_prefix('h')?.parse().ok().filter(|&i| i > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_base_gives_h1_at_11() {
        check_base(DEFAULT_BASE, 3).unwrap();
        assert_eq!(host_addr(DEFAULT_BASE, 1), Ipv4Addr::new(127, 0, 0, 11));
        assert_eq!(host_addr(DEFAULT_BASE, 3), Ipv4Addr::new(127, 0, 0, 13));
    }

    #[test]
    fn refuses_non_loopback_and_overflow() {
        assert!(parse_base("10.0.0.10", 1).is_err());
        assert!(parse_base("192.168.1.1", 1).is_err());
        assert!(parse_base("128.0.0.1", 1).is_err());
        assert!(parse_base("not-an-ip", 1).is_err());
        assert!(parse_base("127.0.0.250", 4).is_ok());
        assert!(parse_base("127.0.0.250", 5).is_err());
        assert!(parse_base("127.255.255.254", 1).is_err());
        assert!(parse_base("127.0.0.10", 0).is_err());
        assert!(parse_base("127.0.0.0", 254).is_ok());
        assert!(parse_base("127.0.0.0", 255).is_err());
    }

    #[test]
    fn names() {
        assert_eq!(host_name(12), "h12");
        assert_eq!(host_index("h12"), Some(12));
        assert_eq!(host_index("h0"), None);
        assert_eq!(host_index("x1"), None);
    }
}
