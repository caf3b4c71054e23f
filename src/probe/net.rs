//! The default-route facts (`facts.default_ipv4`, `facts.default_ipv6`: Ansible's
//! `ansible_default_ipv4`/`ansible_default_ipv6`), read by the probe from `/proc/net` with shell
//! builtins and worked out here.
//!
//! Records (in the probe's `fact` records):
//! - `route4` `IFACE DEST GATEWAY MASK`: each line of `/proc/net/route` (hex, host byte order
//!   as the kernel prints it: little-endian on every machine play supports);
//! - `local4` `ADDRESS`: each `/32 host LOCAL` address of `/proc/net/fib_trie` (read only when
//!   there is a default route);
//! - `route6` `IFACE NEXTHOP`: the first IPv6 default route (`::/0`) not on `lo`;
//! - `addr6` `ADDRESS PREFIX SCOPE`: the addresses of that interface (`/proc/net/if_inet6`).
//!
//! The IPv4 address is the local address inside a route of the default interface (the one
//! holding the gateway first), as `ip route get` would choose it for the gateway; the IPv6 one is
//! the interface's first global address. No default route: an empty mapping (as Ansible's `{}`).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The probe's lines to gather the records above (builtins only; `/proc/net/fib_trie` only
/// with an IPv4 default route, `/proc/net/if_inet6` only with an IPv6 one).
pub const SCRIPT: &str = r#"r=
if [ -r /proc/net/route ]; then
  while read -r n d g x x x x k x; do
    case $d in Destination) continue ;; esac
    [ -z "$r" ] && [ "$d" = 00000000 ] && [ "$k" = 00000000 ] && r=$n
    printf 'fact\0route4\0%s %s %s %s\0' "$n" "$d" "$g" "$k"
  done < /proc/net/route
fi
if [ -n "$r" ] && [ -r /proc/net/fib_trie ]; then
  a=
  while read -r x y z; do
    case $x in
      '|--') a=$y ;;
      /32) [ "$y $z" = 'host LOCAL' ] && printf 'fact\0local4\0%s\0' "$a" ;;
      Local:) break ;;
    esac
  done < /proc/net/fib_trie
fi
r=
if [ -r /proc/net/ipv6_route ]; then
  while read -r d p x x g x x x x n; do
    if [ "$d$p" = 0000000000000000000000000000000000 ] && [ "$n" != lo ]; then
      r=$n; printf 'fact\0route6\0%s %s\0' "$n" "$g"; break
    fi
  done < /proc/net/ipv6_route
fi
if [ -n "$r" ] && [ -r /proc/net/if_inet6 ]; then
  while read -r a x p s x n; do
    [ "$n" = "$r" ] && printf 'fact\0addr6\0%s %s %s\0' "$a" "$p" "$s"
  done < /proc/net/if_inet6
fi
"#;

/// What the probe printed of the network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetSeen {
    pub route4: Vec<String>,
    pub local4: Vec<String>,
    pub route6: Option<String>,
    pub addr6: Vec<String>,
}

impl NetSeen {
    /// Takes one `fact` record of the network (false: not one of these).
    pub fn take(&mut self, key: &str, value: &str) -> bool {
        match key {
            "route4" => self.route4.push(value.to_string()),
            "local4" => self.local4.push(value.to_string()),
            "route6" => self.route6 = Some(value.to_string()),
            "addr6" => self.addr6.push(value.to_string()),
            _ => return false,
        }
        true
    }

    /// Ansible's `default_ipv4`: `address`, `gateway`, `interface`, `netmask`, `network`,
    /// `prefix`; empty without a default route or an address on its interface.
    pub fn default_ipv4(&self) -> BTreeMap<String, String> {
        let routes: Vec<(&str, Ipv4Addr, Ipv4Addr, Ipv4Addr)> = (self.route4.iter())
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                let (n, d, g, k) = (w.next()?, w.next()?, w.next()?, w.next()?);
                Some((n, hex4(d)?, hex4(g)?, hex4(k)?))
            })
            .collect();
        let Some(&(iface, _, gateway, _)) = routes
            .iter()
            .find(|(_, d, _, k)| d.is_unspecified() && k.is_unspecified())
        else {
            return BTreeMap::new();
        };
        let locals: Vec<Ipv4Addr> = (self.local4.iter())
            .filter_map(|a| a.parse().ok())
            .filter(|a: &Ipv4Addr| !a.is_loopback())
            .collect();
        let inside = |a: Ipv4Addr, net: Ipv4Addr, mask: Ipv4Addr| {
            u32::from(a) & u32::from(mask) == u32::from(net) & u32::from(mask)
        };
        let mut nets: Vec<(Ipv4Addr, Ipv4Addr)> = (routes.iter())
            .filter(|(n, d, _, k)| *n == iface && !(d.is_unspecified() && k.is_unspecified()))
            .map(|(_, d, _, k)| (*d, *k))
            .collect();
        // the route holding the gateway first
        nets.sort_by_key(|(d, k)| !inside(gateway, *d, *k));
        let found = nets.iter().find_map(|(d, k)| {
            (locals.iter())
                .find(|a| inside(**a, *d, *k))
                .map(|a| (*a, *d, *k))
        });
        let Some((address, network, mask)) = found else {
            return BTreeMap::new();
        };
        BTreeMap::from([
            ("address".into(), address.to_string()),
            ("gateway".into(), gateway.to_string()),
            ("interface".into(), iface.to_string()),
            ("netmask".into(), mask.to_string()),
            ("network".into(), network.to_string()),
            ("prefix".into(), u32::from(mask).count_ones().to_string()),
        ])
    }

    /// Ansible's `default_ipv6`: `address`, `gateway`, `interface`, `prefix`, `scope`; empty
    /// without a default route or a global address on its interface.
    pub fn default_ipv6(&self) -> BTreeMap<String, String> {
        let Some((iface, gateway)) = (self.route6.as_deref())
            .and_then(|r| r.split_once(' '))
            .and_then(|(n, g)| Some((n, hex6(g)?)))
        else {
            return BTreeMap::new();
        };
        let global = self.addr6.iter().find_map(|l| {
            let mut w = l.split_whitespace();
            let (a, p, s) = (hex6(w.next()?)?, w.next()?, w.next()?);
            (s == "00").then(|| (a, u8::from_str_radix(p, 16).ok()))
        });
        let Some((address, Some(prefix))) = global else {
            return BTreeMap::new();
        };
        let mut out = BTreeMap::from([
            ("address".into(), address.to_string()),
            ("interface".into(), iface.to_string()),
            ("prefix".into(), prefix.to_string()),
            ("scope".into(), "global".to_string()),
        ]);
        if !gateway.is_unspecified() {
            out.insert("gateway".into(), gateway.to_string());
        }
        out
    }
}

/// `/proc/net/route`'s 8 hex digits (the address's bytes in memory order).
fn hex4(h: &str) -> Option<Ipv4Addr> {
    let n = u32::from_str_radix(h, 16).ok().filter(|_| h.len() == 8)?;
    Some(Ipv4Addr::from(n.swap_bytes()))
}

/// `/proc/net/ipv6_route`'s and `if_inet6`'s 32 hex digits (network order).
fn hex6(h: &str) -> Option<Ipv6Addr> {
    let n = u128::from_str_radix(h, 16).ok().filter(|_| h.len() == 32)?;
    Some(Ipv6Addr::from(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A machine with eth0 192.0.2.2/24 via 192.0.2.1, docker0 172.17.0.1/16, and IPv6 fd00::2
    /// via fd00::1 (the records this module's script prints for them).
    fn seen() -> NetSeen {
        let mut n = NetSeen::default();
        for (k, v) in [
            ("route4", "docker0 000011AC 00000000 0000FFFF"),
            ("route4", "eth0 00000000 010200C0 00000000"),
            ("route4", "eth0 000200C0 00000000 00FFFFFF"),
            ("local4", "127.0.0.1"),
            ("local4", "172.17.0.1"),
            ("local4", "192.0.2.2"),
            ("route6", "eth0 fd000000000000000000000000000001"),
            ("addr6", "fe8000000000000000fc00fffe000001 40 20"),
            ("addr6", "fd000000000000000000000000000002 40 00"),
        ] {
            assert!(n.take(k, v));
        }
        assert!(!n.take("hostname", "x"));
        n
    }

    #[test]
    fn the_default_route_gives_its_interface_address() {
        let v4 = seen().default_ipv4();
        let want: BTreeMap<String, String> = [
            ("address", "192.0.2.2"),
            ("gateway", "192.0.2.1"),
            ("interface", "eth0"),
            ("netmask", "255.255.255.0"),
            ("network", "192.0.2.0"),
            ("prefix", "24"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(v4, want);
        let v6 = seen().default_ipv6();
        assert_eq!(v6["address"], "fd00::2");
        assert_eq!(v6["gateway"], "fd00::1");
        assert_eq!(v6["interface"], "eth0");
        assert_eq!(v6["prefix"], "64");
    }

    #[test]
    fn no_default_route_is_an_empty_mapping() {
        let mut n = seen();
        n.route4.retain(|l| !l.starts_with("eth0 00000000 "));
        n.route6 = None;
        assert!(n.default_ipv4().is_empty());
        assert!(n.default_ipv6().is_empty());
        // a default route whose interface has no address of its routes: empty too
        let mut n = seen();
        n.local4.retain(|a| a != "192.0.2.2");
        assert!(n.default_ipv4().is_empty());
        let mut n = seen();
        n.addr6.retain(|l| !l.ends_with(" 00"));
        assert!(n.default_ipv6().is_empty());
    }
}
