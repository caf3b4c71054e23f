//! Host addresses: host i (1-based) listens on base + i, always inside 127.0.0.0/8.

use std::net::Ipv4Addr;

use super::LabError;

/// The default base: h1 = 127.0.0.11.
pub const DEFAULT_BASE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 10);

/// Most hosts one lab can have.
pub const MAX_HOSTS: usize = 2000;

/// Hosts per /24 block after the base's own: last octets .11 to .254.
const PER_BLOCK: usize = 244;

/// Parses and checks `--base`: a loopback address (127.0.0.0/8) and room for `count` hosts.
pub fn parse_base(text: &str, count: usize) -> Result<Ipv4Addr, LabError> {
    let base: Ipv4Addr = text.trim().parse().map_err(|_| LabError::BadBase {
        base: text.to_string(),
        reason: "not an IPv4 address (expected something like 127.0.0.10)".into(),
    })?;
    check_base(base, count)?;
    Ok(base)
}

/// Where host `index` (1-based) is: (third octet offset from the base's, last octet). Hosts
/// fill the base's /24 block up to .254, then the next blocks from .11 to .254 each
/// (`127.1.0.10` for 500 hosts: 127.1.0.11-254, 127.1.1.11-254, 127.1.2.11-24).
fn place(base: Ipv4Addr, index: usize) -> (usize, usize) {
    let last = usize::from(base.octets()[3]);
    let first = 254usize.saturating_sub(last);
    if index <= first {
        (0, last + index)
    } else {
        let j = index - first - 1;
        (1 + j / PER_BLOCK, 11 + j % PER_BLOCK)
    }
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
    if o[3] >= 254 {
        return Err(LabError::BadBase {
            base: base.to_string(),
            reason: "the last octet must be below 254 (host i is base + i)".into(),
        });
    }
    let (blocks, _) = place(base, count);
    if usize::from(o[2]) + blocks > 255 {
        return Err(LabError::BadBase {
            base: base.to_string(),
            reason: format!(
                "{count} hosts need {} more /24 blocks after {}.{}.{}.0: past {}.{}.255.254 (pick a lower base)",
                blocks, o[0], o[1], o[2], o[0], o[1]
            ),
        });
    }
    Ok(())
}

/// Address of host `index` (1-based). The base must have passed [`check_base`] for at least
/// `index` hosts.
pub fn host_addr(base: Ipv4Addr, index: usize) -> Ipv4Addr {
    let o = base.octets();
    let (block, last) = place(base, index);
    let third = u8::try_from(usize::from(o[2]) + block).unwrap_or(u8::MAX);
    Ipv4Addr::new(o[0], o[1], third, u8::try_from(last).unwrap_or(254))
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
        assert!(parse_base("127.255.255.254", 1).is_err());
        assert!(parse_base("127.255.255.250", 5).is_err());
        assert!(parse_base("127.0.0.10", 0).is_err());
        assert!(parse_base("127.0.0.0", 254).is_ok());
        assert!(parse_base("127.1.0.10", 500).is_ok());
        assert!(parse_base("127.1.0.10", MAX_HOSTS + 1).is_err());
    }

    #[test]
    fn large_labs_spill_into_the_next_blocks() {
        let base = Ipv4Addr::new(127, 1, 0, 10);
        check_base(base, 500).unwrap();
        assert_eq!(host_addr(base, 244), Ipv4Addr::new(127, 1, 0, 254));
        assert_eq!(host_addr(base, 245), Ipv4Addr::new(127, 1, 1, 11));
        assert_eq!(host_addr(base, 488), Ipv4Addr::new(127, 1, 1, 254));
        assert_eq!(host_addr(base, 489), Ipv4Addr::new(127, 1, 2, 11));
        assert_eq!(host_addr(base, 500), Ipv4Addr::new(127, 1, 2, 22));
        let all: std::collections::BTreeSet<Ipv4Addr> =
            (1..=2000).map(|i| host_addr(base, i)).collect();
        assert_eq!(all.len(), 2000, "every host its own address");
        assert!(all
            .iter()
            .all(|a| a.octets()[0] == 127 && (11..=254).contains(&a.octets()[3])));
        // Small labs are where they always were.
        assert_eq!(host_addr(DEFAULT_BASE, 3), Ipv4Addr::new(127, 0, 0, 13));
        assert!(check_base(Ipv4Addr::new(127, 1, 255, 10), 245).is_err());
    }

    #[test]
    fn names() {
        assert_eq!(host_name(12), "h12");
        assert_eq!(host_index("h12"), Some(12));
        assert_eq!(host_index("h0"), None);
        assert_eq!(host_index("x1"), None);
    }
}
