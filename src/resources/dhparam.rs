//! `dhparam:` — Diffie-Hellman parameters generated on the host with `openssl dhparam`
//! (Ansible's `community.crypto.openssl_dhparam`, and the `openssl dhparam -out P N` of many
//! nginx roles).
//!
//! ```yaml
//! - dhparam: /etc/nginx/dhparam.pem
//!   size: 2048         # bits (default 4096, as openssl_dhparam; 4096 takes minutes)
//!   mode: "0644"
//! ```
//!
//! Probe: the `dhparam` record ([`super::tls`]): the first line of `openssl pkeyparam -text`.
//! Plan: created when missing, regenerated when it holds parameters of another size or none
//! openssl reads; else only owner/group/mode. Apply: `openssl dhparam` into a private temp
//! file, renamed into place.

use super::deploy::{Planned, Refused};
use super::registry::Key;
use super::tls::{self, Seen, TlsOp};
use super::{Attrs, Presence};
use crate::resolve::{Base, Keys, ResolveError};

/// openssl_dhparam's default size.
pub const DEFAULT_BITS: u32 = 4096;

/// One dhparam file, rendered for one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DhparamSpec {
    pub path: String,
    pub presence: Presence,
    pub bits: u32,
    pub attrs: Attrs,
}

/// The size `openssl pkeyparam -text`'s first line gives (`DH Parameters: (2048 bit)`).
pub fn parse_bits(line: &str) -> Option<u32> {
    let rest = line.trim().strip_prefix("DH Parameters: (")?;
    rest.split(' ').next()?.parse().ok()
}

/// Plans one dhparam file from its path's state and its `dhparam` record.
pub fn plan(
    spec: &DhparamSpec,
    have: &super::PathState,
    seen: &Seen,
) -> Result<Option<Planned<TlsOp>>, Refused> {
    let mut wrong = Vec::new();
    if spec.presence == Presence::Present {
        match seen {
            Seen::Text(t) => match parse_bits(t) {
                Some(b) if b == spec.bits => {}
                Some(b) => wrong.push(format!("{b} → {} bits: regenerated", spec.bits)),
                None => wrong.push("no DH parameters openssl reads: regenerated".into()),
            },
            Seen::NoOpenssl => {
                return Err(Refused(format!(
                    "{}: the host has no openssl (install it first: `package: openssl`)",
                    spec.path
                )))
            }
            Seen::Unknown | Seen::Missing | Seen::NotFile(_) => {}
        }
    }
    tls::plan(
        &spec.path,
        spec.presence,
        &spec.attrs,
        have,
        format!("{} bits generated on the host", spec.bits),
        wrong,
    )
}

impl super::Spec for DhparamSpec {
    super::tls::tls_spec_methods!();
    fn plan_work(
        &self,
        observed: &super::Observed,
        _changed: &[&str],
    ) -> Result<Option<Planned<Self::Work>>, Refused> {
        let seen = tls::seen(observed.deploy.record("dhparam", &self.path));
        plan(self, &observed.path(&self.path), &seen)
    }
    fn apply_fragment(
        &self,
        index: usize,
        work: Option<&Self::Work>,
        _last: bool,
    ) -> Option<Result<(String, Vec<u8>), String>> {
        let fill = format!("openssl dhparam -out \"$t\" {}", self.bits);
        Some(Ok((
            tls::apply_fragment(index, "dhparam", &self.path, &self.attrs, work?, &fill),
            Vec::new(),
        )))
    }
    fn add_probe(&self, p: &mut super::deploy::DeployProbe) {
        if self.presence == Presence::Present {
            p.add_fragment(tls::probe_fragment(
                "dhparam",
                &self.path,
                "pkeyparam -noout -text",
                true,
            ));
        }
    }
    fn has_nul(&self) -> bool {
        super::any_nul(&[Some(&self.path)]) || self.attrs.has_nul()
    }
}

/// The registry line of `dhparam:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Dhparam,
    name: "dhparam",
    keys: &[
        Key::Any("size"),
        Key::Text("owner"),
        Key::Text("group"),
        Key::Any("mode"),
    ],
    is_path: true,
    watchable: true,
    docs_section: "`dhparam: PATH` — Diffie-Hellman parameters made on the host",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key: super::registry::path_key,
    render: super::registry::Render::Fn(from_entry),
    check_value: super::registry::any_value,
    records: &[super::registry::Record {
        tag: "dhparam",
        fields: 3,
        per_host: false,
    }],
    check_entry: super::registry::any_entry,
};

/// The spec of a `dhparam:` entry, its errors located at their keys.
pub fn from_entry(k: &Keys, b: Base) -> Result<super::Desired, ResolveError> {
    let Base { key, attrs, state } = b;
    let presence = k.presence(&state)?;
    let bits = k.number("size")?.unwrap_or(DEFAULT_BITS as u64);
    let bits = tls::check_range("size", bits, 512..=16384).map_err(|m| k.fail("size", m))?;
    Ok(super::Desired::Dhparam(DhparamSpec {
        path: key,
        presence,
        bits,
        attrs,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{Action, PathKind, PathState};

    fn file() -> PathState {
        PathState {
            kind: PathKind::File {
                size: 424,
                sha256: Some("cd".repeat(32)),
            },
            mode: 0o644,
            owner: "root".into(),
            group: "root".into(),
        }
    }

    #[test]
    fn the_size_decides() {
        assert_eq!(parse_bits("DH Parameters: (2048 bit)"), Some(2048));
        assert_eq!(parse_bits("    DH Parameters: (512 bit)"), Some(512));
        assert_eq!(parse_bits("unable to load"), None);
        let s = DhparamSpec {
            path: "/etc/nginx/dh.pem".into(),
            bits: 2048,
            ..Default::default()
        };
        let same = Seen::Text("DH Parameters: (2048 bit)".into());
        assert_eq!(plan(&s, &file(), &same).unwrap(), None);
        let small = Seen::Text("DH Parameters: (1024 bit)".into());
        let p = plan(&s, &file(), &small).unwrap().unwrap();
        assert_eq!(p.action, Action::Update);
        assert_eq!(p.details, vec!["1024 → 2048 bits: regenerated"]);
        let junk = plan(&s, &file(), &Seen::Text(String::new()))
            .unwrap()
            .unwrap();
        assert_eq!(junk.action, Action::Update);
        let new = plan(&s, &PathState::missing(), &Seen::Missing)
            .unwrap()
            .unwrap();
        assert_eq!(new.details, vec!["2048 bits generated on the host"]);
        let f = tls::apply_fragment(
            1,
            "dhparam",
            &s.path,
            &s.attrs,
            &new.work,
            "openssl dhparam -out \"$t\" 2048",
        );
        assert!(
            f.contains("{ openssl dhparam -out \"$t\" 2048\n} </dev/null 1>&2 || play_fail 1"),
            "{f}"
        );
    }
}
