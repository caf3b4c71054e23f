//! `ufw: RULE` — one rule of the ufw firewall, or `ufw: enabled`/`disabled`, its state
//! (Ansible's `community.general.ufw`, and the `ufw allow …`, `ufw --force enable` shell steps
//! of many playbooks).
//!
//! ```yaml
//! - ufw: allow ssh                 # ACTION TARGET: allow, deny, reject or limit, then a port
//!                                  # (22, 22/tcp, 6000:6007/tcp), a service of /etc/services
//!                                  # (ssh, http) or an application profile (OpenSSH)
//! - ufw: allow 5432/tcp
//!   from: 10.0.0.0/8               # default any
//!   to: any                        # default any
//! - ufw: deny 25
//!   direction: out                 # in (default) or out
//!   proto: tcp                     # tcp, udp or any (also as PORT/PROTO)
//! - ufw: allow                     # no target: every port, from/to given
//!   from: 192.168.1.10
//! - ufw: allow http
//!   state: absent                  # the rule deleted
//! - ufw: enabled                   # `ufw --force enable`; `disabled`: `ufw disable`
//! ```
//!
//! Probe (no `ufw status`, which needs iptables): `/etc/ufw/user.rules` and `user6.rules` read
//! whole (the `edf` records of [`super::edit`]: their `### tuple ### ACTION PROTO DPORT DST
//! SPORT SRC [DAPP SAPP] DIRECTION` lines are the rules as ufw keeps them), `/etc/ufw/ufw.conf`
//! (`ENABLED=yes|no`), and for a target that is a name, its ports in `/etc/services` read by
//! shell builtins (record `ufwsvc \0 NAME \0 TCP-PORT \0 UDP-PORT \0`): a name of
//! `/etc/services` is a port for ufw (`ssh` is `tcp 22`), another name an application profile.
//! Plan: a rule is there when its tuple is in `user.rules` (`user6.rules` for IPv6
//! addresses). Apply: the `ufw` program (`ufw allow …`, `ufw delete allow …`: on an inactive
//! ufw it changes its files only, though ufw still probes iptables; `ufw --force enable`).

use super::deploy::{set_args, Planned, Refused};
use super::edit::FileSeen;
use super::registry::{Key, Record};
use super::{Action, Presence};
use crate::resolve::{Base, Keys, ResolveError};
use crate::transport::shell_quote;

/// ufw's files the probe reads.
pub const RULES: &str = "/etc/ufw/user.rules";
pub const RULES6: &str = "/etc/ufw/user6.rules";
pub const CONF: &str = "/etc/ufw/ufw.conf";

/// What a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Every port.
    Any,
    /// A port, a range `A:B` or a list `A,B` (the protocol given apart).
    Port(String),
    /// A service of `/etc/services` or an application profile (the probe tells which).
    Name(String),
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// allow, deny, reject, limit.
    pub action: String,
    /// in, out.
    pub direction: String,
    pub target: Target,
    /// tcp, udp (`None`: any).
    pub proto: Option<String>,
    /// An address or network (`None`: any).
    pub from: Option<String>,
    pub to: Option<String>,
}

/// A `ufw:` entry: a rule, or the firewall's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UfwWhat {
    Rule(Rule),
    /// `enabled` (true) or `disabled`.
    Enabled(bool),
}

/// One `ufw:` entry, rendered for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UfwSpec {
    /// As written (`allow ssh`, `enabled`): its key.
    pub key: String,
    pub presence: Presence,
    pub what: UfwWhat,
}

/// What apply runs: `ufw` with these arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UfwWork {
    pub args: Vec<String>,
}

const ACTIONS: [&str; 4] = ["allow", "deny", "reject", "limit"];

/// A port as ufw takes it: a number 1-65535, a range `A:B`, or a list of those (`,`).
fn port_ok(p: &str) -> bool {
    let num = |n: &str| n.parse::<u32>().is_ok_and(|n| (1..=65535).contains(&n));
    !p.is_empty()
        && p.split(',').all(|part| match part.split_once(':') {
            Some((a, b)) => num(a) && num(b),
            None => num(part),
        })
}

/// A name ufw takes as a service or an application profile.
fn name_ok(n: &str) -> bool {
    n.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || " _-.+".contains(c))
}

/// Parses an entry's key: `enabled`, `disabled`, or `ACTION [TARGET[/PROTO]]`; gives the
/// action, the target and the protocol the target names.
pub fn parse_key(key: &str) -> Result<UfwWhat, String> {
    let key = key.trim();
    match key {
        "enabled" => return Ok(UfwWhat::Enabled(true)),
        "disabled" => return Ok(UfwWhat::Enabled(false)),
        _ => {}
    }
    let (action, rest) = key.split_once(char::is_whitespace).unwrap_or((key, ""));
    if !ACTIONS.contains(&action) {
        return Err(format!(
            "ufw `{key}`: `enabled`, `disabled`, or a rule `ACTION TARGET` with ACTION one of {} (`allow ssh`, `deny 25/tcp`)",
            ACTIONS.join(", ")
        ));
    }
    let rest = rest.trim();
    let (target, proto) = match rest.rsplit_once('/') {
        Some((t, p)) if !t.is_empty() => (
            t,
            Some(proto_of(p).map_err(|m| format!("ufw `{key}`: {m}"))?),
        ),
        _ => (rest, None),
    };
    let target = if target.is_empty() {
        Target::Any
    } else if target.starts_with(|c: char| c.is_ascii_digit()) {
        if !port_ok(target) {
            return Err(format!(
                "ufw `{key}`: `{target}` is not a port (1-65535), a range `A:B` or a list `A,B`"
            ));
        }
        if (target.contains(':') || target.contains(',')) && proto.is_none() {
            return Err(format!(
                "ufw `{key}`: a port range or list needs its protocol (`{target}/tcp`), as ufw does"
            ));
        }
        Target::Port(target.to_string())
    } else if name_ok(target) {
        Target::Name(target.to_string())
    } else {
        return Err(format!(
            "ufw `{key}`: `{target}` is neither a port nor a service or application name"
        ));
    };
    Ok(UfwWhat::Rule(Rule {
        action: action.to_string(),
        direction: "in".into(),
        target,
        proto: proto.flatten(),
        from: None,
        to: None,
    }))
}

/// A protocol: `tcp`, `udp` (`Some`) or `any` (`None`).
fn proto_of(p: &str) -> Result<Option<String>, String> {
    match p {
        "tcp" | "udp" => Ok(Some(p.to_string())),
        "any" => Ok(None),
        other => Err(format!("protocol `{other}`: tcp, udp or any")),
    }
}

/// An address or network ufw takes (`any`: `None`).
fn address(v: &str) -> Result<Option<String>, String> {
    let v = v.trim();
    if v == "any" || v.is_empty() {
        return Ok(None);
    }
    let (ip, bits) = match v.split_once('/') {
        Some((ip, b)) => (ip, Some(b)),
        None => (v, None),
    };
    let ip: std::net::IpAddr = ip
        .parse()
        .map_err(|_| format!("`{v}` is not an address or a network (`10.0.0.0/8`), or `any`"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    match bits.map(|b| b.parse::<u32>()) {
        None => Ok(Some(ip.to_string())),
        Some(Ok(b)) if b == max => Ok(Some(ip.to_string())),
        Some(Ok(b)) if b <= max => Ok(Some(format!("{ip}/{b}"))),
        _ => Err(format!("`{v}`: a prefix length 0-{max} after `/`")),
    }
}

/// One `### tuple ###` line of ufw's rules files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tuple {
    pub action: String,
    pub proto: String,
    pub dport: String,
    pub dst: String,
    pub sport: String,
    pub src: String,
    pub dapp: String,
    pub direction: String,
}

/// The rules of a rules file (route rules and rules on an interface are left aside: play
/// declares neither).
pub fn tuples(text: &str) -> Vec<Tuple> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("### tuple ###") else {
            continue;
        };
        let rest = rest.split(" comment=").next().unwrap_or(rest);
        let f: Vec<&str> = rest.split_whitespace().collect();
        let (dapp, direction) = match f.len() {
            7 => ("-", f[6]),
            9 => (f[6], f[8]),
            _ => continue,
        };
        if f[0].contains(':') || !matches!(direction, "in" | "out") {
            continue;
        }
        let action = f[0].split('_').next().unwrap_or(f[0]);
        out.push(Tuple {
            action: action.to_string(),
            proto: f[1].to_string(),
            dport: f[2].to_string(),
            dst: f[3].to_string(),
            sport: f[4].to_string(),
            src: f[5].to_string(),
            dapp: dapp.replace("%20", " "),
            direction: direction.to_string(),
        });
    }
    out
}

/// The ports `/etc/services` gives a name: (tcp, udp), each empty when none.
pub type Service = (String, String);

/// Whether `t` is `rule` (its name resolved as `service`; `v6`: the IPv6 file's tuple).
fn matches(rule: &Rule, service: Option<&Service>, t: &Tuple, v6: bool) -> bool {
    let any = if v6 { "::/0" } else { "0.0.0.0/0" };
    let addr = |a: &Option<String>| a.clone().unwrap_or_else(|| any.to_string());
    if t.action != rule.action
        || t.direction != rule.direction
        || t.src != addr(&rule.from)
        || t.dst != addr(&rule.to)
        || t.sport != "any"
    {
        return false;
    }
    let proto = rule.proto.clone().unwrap_or_else(|| "any".into());
    match (&rule.target, service) {
        (Target::Any, _) => t.dapp == "-" && t.dport == "any" && t.proto == proto,
        (Target::Port(p), _) => t.dapp == "-" && &t.dport == p && t.proto == proto,
        (Target::Name(_), Some((tcp, udp))) if !tcp.is_empty() || !udp.is_empty() => {
            let port = if tcp.is_empty() { udp } else { tcp };
            let proto = match (&rule.proto, tcp.is_empty(), udp.is_empty()) {
                (Some(p), _, _) => p.clone(),
                (None, false, false) => "any".into(),
                (None, false, true) => "tcp".into(),
                _ => "udp".into(),
            };
            t.dapp == "-" && &t.dport == port && t.proto == proto
        }
        // an application profile
        (Target::Name(n), _) => &t.dapp == n,
    }
}

/// The address family of a rule's file: IPv6 when an address of it is.
fn is_v6(rule: &Rule) -> bool {
    [&rule.from, &rule.to]
        .iter()
        .any(|a| a.as_deref().is_some_and(|a| a.contains(':')))
}

/// The rule's `ufw` arguments (after `delete` for a removal): the short form
/// `ACTION [out] TARGET` when it can say it, else `ACTION DIR [proto P] from A to B [port
/// N|app NAME]`.
pub fn rule_args(rule: &Rule) -> Vec<String> {
    let mut a = vec![rule.action.clone()];
    if rule.direction == "out" {
        a.push("out".into());
    }
    let short = rule.from.is_none() && rule.to.is_none() && rule.target != Target::Any;
    if short {
        let t = match &rule.target {
            Target::Port(p) | Target::Name(p) => p.clone(),
            Target::Any => String::new(),
        };
        a.push(match &rule.proto {
            Some(p) => format!("{t}/{p}"),
            None => t,
        });
        return a;
    }
    if rule.direction == "in" {
        a.push("in".into());
    }
    if let Some(p) = &rule.proto {
        a.extend(["proto".into(), p.clone()]);
    }
    a.extend([
        "from".into(),
        rule.from.clone().unwrap_or_else(|| "any".into()),
    ]);
    a.extend(["to".into(), rule.to.clone().unwrap_or_else(|| "any".into())]);
    match &rule.target {
        Target::Any => {}
        Target::Port(p) => a.extend(["port".into(), p.clone()]),
        Target::Name(n) => a.extend(["port".into(), n.clone()]),
    }
    a
}

/// [`rule_args`] of an application profile (the extended form names it with `app`).
fn args_for(rule: &Rule, service: Option<&Service>) -> Vec<String> {
    let mut a = rule_args(rule);
    let is_app = matches!(&rule.target, Target::Name(_))
        && service.is_none_or(|(t, u)| t.is_empty() && u.is_empty());
    if is_app {
        if let Some(i) = a.iter().rposition(|x| x == "port") {
            a[i] = "app".into();
        }
    }
    a
}

/// The probe fragment of a name's ports (record `ufwsvc`), by shell builtins.
pub fn probe_fragment(name: &str) -> String {
    let n = shell_quote(name);
    format!(
        r#"printf 'ufwsvc\0%s\0' {n}
t=; u=
if [ -r /etc/services ]; then
  set -f
  while read -r sn sp sr; do
    case $sn in ''|'#'*) continue ;; esac
    hit=
    [ "$sn" = {n} ] && hit=1
    for sa in $sr; do case $sa in '#'*) break ;; esac; [ "$sa" = {n} ] && hit=1; done
    if [ -n "$hit" ]; then
      case $sp in */tcp) [ -n "$t" ] || t=${{sp%/tcp}} ;; */udp) [ -n "$u" ] || u=${{sp%/udp}} ;; esac
    fi
  done < /etc/services
  set +f
fi
printf '%s\0%s\0' "$t" "$u"
"#
    )
}

/// The text of a file the probe read (`None`: missing; `Err`: not a readable file).
fn text<'a>(path: &str, seen: &'a FileSeen) -> Result<Option<std::borrow::Cow<'a, str>>, Refused> {
    match seen {
        FileSeen::Missing => Ok(None),
        FileSeen::File(b) => Ok(Some(String::from_utf8_lossy(b))),
        FileSeen::Other(what) => Err(Refused(format!("{path} is {what}; not read"))),
    }
}

/// ufw's files not there: ufw is not installed, unless a change before installs it.
fn not_installed(path: &str, changed: &[&str]) -> Result<String, Refused> {
    match changed.iter().find(|k| **k == "ufw") {
        Some(k) => Ok(format!("{path} known after {k}")),
        None => Err(Refused(format!(
            "no {path}: ufw is not installed (declare `package: ufw` before it)"
        ))),
    }
}

/// Plans one entry from ufw's files as seen; `service`: the ports of a name target.
pub fn plan(
    spec: &UfwSpec,
    files: (&FileSeen, &FileSeen, &FileSeen),
    service: Option<&Service>,
    changed: &[&str],
) -> Result<Option<Planned<UfwWork>>, Refused> {
    let (rules, rules6, conf) = files;
    match &spec.what {
        UfwWhat::Enabled(want) => {
            let (on, details) = match text(CONF, conf)? {
                None => (None, vec![not_installed(CONF, changed)?]),
                Some(t) => (
                    Some(t.lines().any(|l| {
                        l.trim()
                            .trim_start_matches("ENABLED=")
                            .trim_matches(['"', '\''])
                            == "yes"
                            && l.trim().starts_with("ENABLED=")
                    })),
                    Vec::new(),
                ),
            };
            if on == Some(*want) {
                return Ok(None);
            }
            let args = match want {
                true => vec!["--force".into(), "enable".into()],
                false => vec!["disable".into()],
            };
            Ok(Some(Planned {
                action: Action::Update,
                details,
                work: UfwWork { args },
            }))
        }
        UfwWhat::Rule(rule) => {
            let v6 = is_v6(rule);
            let (path, seen) = if v6 { (RULES6, rules6) } else { (RULES, rules) };
            let found = match text(path, seen)? {
                None => {
                    let why = not_installed(path, changed)?;
                    if spec.presence == Presence::Absent {
                        return Ok(None);
                    }
                    return Ok(Some(Planned {
                        action: Action::Create,
                        details: vec![why],
                        work: UfwWork {
                            args: args_for(rule, service),
                        },
                    }));
                }
                Some(t) => tuples(&t).iter().any(|t| matches(rule, service, t, v6)),
            };
            let found = found
                || (spec.presence == Presence::Absent
                    && !v6
                    && text(RULES6, rules6)?.is_some_and(|t| {
                        tuples(&t).iter().any(|t| matches(rule, service, t, true))
                    }));
            match (spec.presence, found) {
                (Presence::Present, false) => Ok(Some(Planned {
                    action: Action::Create,
                    details: Vec::new(),
                    work: UfwWork {
                        args: args_for(rule, service),
                    },
                })),
                (Presence::Absent, true) => {
                    let mut args = vec!["delete".to_string()];
                    args.extend(args_for(rule, service));
                    Ok(Some(Planned {
                        action: Action::Delete,
                        details: Vec::new(),
                        work: UfwWork { args },
                    }))
                }
                _ => Ok(None),
            }
        }
    }
}

/// The apply step: `ufw ARGS` (its report on stderr).
pub fn apply_fragment(i: usize, w: &UfwWork) -> String {
    format!(
        "# ufw {i}\nprintf '\\0play-step\\0%s\\0' {i} >&2\n{}\nufw \"$@\" </dev/null 1>&2 || play_fail {i}\nplay_ok {i}\n",
        set_args(&w.args)
    )
}

impl UfwSpec {
    /// The name whose ports the probe looks up.
    fn name(&self) -> Option<&str> {
        match &self.what {
            UfwWhat::Rule(Rule {
                target: Target::Name(n),
                ..
            }) => Some(n),
            _ => None,
        }
    }
}

impl super::Spec for UfwSpec {
    type Work = UfwWork;
    const DEF: &'static super::registry::KindDef = &DEF;
    fn key(&self) -> &str {
        &self.key
    }
    fn has_nul(&self) -> bool {
        self.key.contains('\0')
    }
    fn add_probe(&self, p: &mut super::deploy::DeployProbe) {
        for f in [RULES, RULES6, CONF] {
            p.add_file(f);
        }
        if let Some(n) = self.name() {
            p.add_fragment(probe_fragment(n));
        }
    }
    fn plan_work(
        &self,
        observed: &super::Observed,
        changed: &[&str],
    ) -> Result<Option<Planned<Self::Work>>, Refused> {
        let d = &observed.deploy;
        let files = (
            super::deploy::seen_file(d, RULES)?,
            super::deploy::seen_file(d, RULES6)?,
            super::deploy::seen_file(d, CONF)?,
        );
        let service = match self.name() {
            None => None,
            Some(n) => match d.record("ufwsvc", n) {
                Some([t, u]) => Some((t.clone(), u.clone())),
                _ => return Err(super::deploy::not_probed("the service name")),
            },
        };
        plan(self, files, service.as_ref(), changed)
    }
    fn apply_fragment(
        &self,
        index: usize,
        work: Option<&Self::Work>,
        _last: bool,
    ) -> Option<Result<(String, Vec<u8>), String>> {
        Some(Ok((apply_fragment(index, work?), Vec::new())))
    }
    fn depends(&self, observed: &super::Observed, out: &mut super::Prints) {
        super::edit::depends(observed, out);
        if let Some(n) = self.name() {
            if let Some(r) = observed.deploy.record("ufwsvc", n) {
                out.insert(format!("ufwsvc {n}"), r.join("/"));
            }
        }
    }
}

/// The registry line of `ufw:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Ufw,
    name: "ufw",
    keys: &[
        Key::Text("proto"),
        Key::Any("from"),
        Key::Text("to"),
        Key::Text("direction"),
    ],
    is_path: false,
    watchable: true,
    docs_section: "`ufw: RULE` — a firewall rule, or the firewall's state",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key,
    render: super::registry::Render::Fn(from_entry),
    check_value: super::registry::any_value,
    records: &[Record {
        tag: "ufwsvc",
        fields: 3,
        per_host: false,
    }],
    check_entry,
};

/// [`super::registry::KindDef::check_key`]: `enabled`, `disabled` or a rule.
fn check_key(key: &str) -> Result<String, String> {
    parse_key(key).map(|_| key.trim().to_string())
}

/// [`super::registry::KindDef::check_entry`]: the state takes no rule keys.
fn check_entry(e: &crate::playbook::RawResource) -> Result<(), String> {
    let state = e
        .text("ufw")
        .is_some_and(|k| matches!(k.trim(), "enabled" | "disabled"));
    match ["proto", "from", "to", "direction"]
        .iter()
        .find(|k| e.has(k))
    {
        Some(k) if state => Err(format!(
            "`{k}` is a key of a rule; `ufw: enabled`/`disabled` is the firewall's state"
        )),
        _ => Ok(()),
    }
}

/// The spec of a `ufw:` entry, its errors located at their keys (the registry line's
/// `render`).
pub fn from_entry(k: &Keys, b: Base) -> Result<super::Desired, ResolveError> {
    let Base { key, state, .. } = b;
    let presence = k.presence(&state)?;
    let mut what = parse_key(&key).map_err(|m| k.fail("ufw", m))?;
    if let UfwWhat::Rule(rule) = &mut what {
        if let Some(p) = k.string("proto")? {
            let p = proto_of(p.trim()).map_err(|m| k.fail("proto", m))?;
            if rule.proto.is_some() && rule.proto != p {
                return Err(k.fail(
                    "proto",
                    format!("proto: the rule `{key}` names another protocol"),
                ));
            }
            rule.proto = rule.proto.clone().or(p);
        }
        if let Some(v) = k.raw().get("from") {
            let v = k.scalar("from", v)?;
            rule.from = address(&v).map_err(|m| k.fail("from", format!("from: {m}")))?;
        }
        if let Some(v) = k.string("to")? {
            rule.to = address(&v).map_err(|m| k.fail("to", format!("to: {m}")))?;
        }
        if let Some(d) = k.string("direction")? {
            rule.direction = match d.trim() {
                "in" | "incoming" => "in".into(),
                "out" | "outgoing" => "out".into(),
                other => {
                    return Err(k.fail(
                        "direction",
                        format!("direction: `in` or `out`, not `{other}`"),
                    ))
                }
            };
        }
        if rule.target == Target::Any && rule.from.is_none() && rule.to.is_none() {
            return Err(k.fail(
                "ufw",
                format!("ufw `{key}`: a rule without a port or name needs `from` or `to`"),
            ));
        }
        let v4 = |a: &Option<String>| a.as_deref().is_some_and(|a| !a.contains(':'));
        if is_v6(rule) && (v4(&rule.from) || v4(&rule.to)) {
            return Err(k.fail(
                "to",
                "from and to: one IPv4 and one IPv6 address (ufw takes one family per rule)".into(),
            ));
        }
    } else if presence == Presence::Absent {
        return Err(k.fail(
            "state",
            format!("`ufw: {key}` is the firewall's state: it has no `state: absent`"),
        ));
    }
    Ok(super::Desired::Ufw(UfwSpec {
        key,
        presence,
        what,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER_RULES: &str = "*filter\n:ufw-user-input - [0:0]\n### RULES ###\n\n### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in\n-A ufw-user-input -p tcp --dport 22 -j ACCEPT\n\n### tuple ### allow any 8080 0.0.0.0/0 any 10.0.0.0/8 in\n### tuple ### deny tcp 25 0.0.0.0/0 any 0.0.0.0/0 out\n### tuple ### allow_log tcp 443 0.0.0.0/0 any 0.0.0.0/0 in comment=7765620a\n### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 OpenSSH - in\n### tuple ### route:allow tcp 80 0.0.0.0/0 any 0.0.0.0/0 in\n\n### END RULES ###\n";

    fn rule(key: &str) -> Rule {
        match parse_key(key) {
            Ok(UfwWhat::Rule(r)) => r,
            other => panic!("{key}: {other:?}"),
        }
    }

    fn spec(r: Rule) -> UfwSpec {
        UfwSpec {
            key: "k".into(),
            presence: Presence::Present,
            what: UfwWhat::Rule(r),
        }
    }

    fn seen(t: &str) -> FileSeen {
        FileSeen::File(t.as_bytes().to_vec())
    }

    fn svc(t: &str, u: &str) -> Service {
        (t.into(), u.into())
    }

    #[test]
    fn keys() {
        assert_eq!(parse_key("enabled"), Ok(UfwWhat::Enabled(true)));
        assert_eq!(rule("allow 22/tcp").target, Target::Port("22".into()));
        assert_eq!(rule("allow 22/tcp").proto.as_deref(), Some("tcp"));
        assert_eq!(rule("allow 22/any").proto, None);
        assert_eq!(rule("limit ssh").target, Target::Name("ssh".into()));
        assert_eq!(
            rule("allow Nginx Full").target,
            Target::Name("Nginx Full".into())
        );
        assert_eq!(rule("allow").target, Target::Any);
        assert_eq!(
            rule("deny 6000:6007/udp").target,
            Target::Port("6000:6007".into())
        );
        for bad in [
            "permit ssh",
            "allow 70000",
            "allow 6000:6007",
            "allow 22/icmp",
            "allow $(reboot)",
            "",
        ] {
            assert!(parse_key(bad).is_err(), "{bad}");
        }
        assert_eq!(address("10.0.0.1/32"), Ok(Some("10.0.0.1".into())));
        assert_eq!(address("any"), Ok(None));
        assert!(address("10.0.0.0/33").is_err());
        assert!(address("example.org").is_err());
    }

    #[test]
    fn tuples_are_read_as_ufw_writes_them() {
        let t = tuples(USER_RULES);
        assert_eq!(t.len(), 5, "{t:?}");
        assert_eq!(t[3].action, "allow");
        assert_eq!(t[4].dapp, "OpenSSH");
    }

    #[test]
    fn a_rule_is_there_when_its_tuple_is() {
        let files = |r| (r, &FileSeen::Missing, &FileSeen::Missing);
        let have = seen(USER_RULES);
        let none: Vec<&str> = Vec::new();
        // a service name, resolved by the probe: ssh is tcp 22
        let ssh = spec(rule("allow ssh"));
        let s = svc("22", "");
        assert_eq!(plan(&ssh, files(&have), Some(&s), &none).unwrap(), None);
        // http: tcp 80, not there
        let p = plan(
            &spec(rule("allow http")),
            files(&have),
            Some(&svc("80", "")),
            &none,
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.work.args, vec!["allow", "http"]);
        // https is tcp and udp 443: the rule is proto any; `allow_log tcp 443` is not it
        assert!(plan(
            &spec(rule("allow https")),
            files(&have),
            Some(&svc("443", "443")),
            &none
        )
        .unwrap()
        .is_some());
        assert_eq!(
            plan(&spec(rule("allow 443/tcp")), files(&have), None, &none).unwrap(),
            None
        );
        // an application profile: not a service
        let app = spec(rule("allow OpenSSH"));
        assert_eq!(
            plan(&app, files(&have), Some(&svc("", "")), &none).unwrap(),
            None
        );
        // from/to and direction
        let mut r = rule("allow 8080");
        r.from = Some("10.0.0.0/8".into());
        assert_eq!(
            plan(&spec(r.clone()), files(&have), None, &none).unwrap(),
            None
        );
        r.from = Some("10.0.0.0/16".into());
        let p = plan(&spec(r), files(&have), None, &none).unwrap().unwrap();
        assert_eq!(
            p.work.args,
            vec![
                "allow",
                "in",
                "from",
                "10.0.0.0/16",
                "to",
                "any",
                "port",
                "8080"
            ]
        );
        let mut out = rule("deny 25/tcp");
        out.direction = "out".into();
        assert_eq!(plan(&spec(out), files(&have), None, &none).unwrap(), None);
        assert!(plan(&spec(rule("deny 25/tcp")), files(&have), None, &none)
            .unwrap()
            .is_some());
    }

    #[test]
    fn removal_and_state() {
        let have = seen(USER_RULES);
        let none: Vec<&str> = Vec::new();
        let mut s = spec(rule("allow ssh"));
        s.presence = Presence::Absent;
        let files = (&have, &FileSeen::Missing, &FileSeen::Missing);
        let p = plan(&s, files, Some(&svc("22", "")), &none)
            .unwrap()
            .unwrap();
        assert_eq!(p.action, Action::Delete);
        assert_eq!(p.work.args, vec!["delete", "allow", "ssh"]);
        assert_eq!(
            plan(&s, files, Some(&svc("2222", "")), &none).unwrap(),
            None
        );
        let on = UfwSpec {
            key: "enabled".into(),
            presence: Presence::Present,
            what: UfwWhat::Enabled(true),
        };
        let conf = seen("# comment\nENABLED=no\nLOGLEVEL=low\n");
        let p = plan(&on, (&have, &have, &conf), None, &none)
            .unwrap()
            .unwrap();
        assert_eq!(p.work.args, vec!["--force", "enable"]);
        let f = apply_fragment(3, &p.work);
        assert!(f.contains("set -- --force enable\nufw \"$@\""), "{f}");
        let conf = seen("ENABLED=yes\n");
        assert_eq!(plan(&on, (&have, &have, &conf), None, &none).unwrap(), None);
        // no ufw yet: refused, unless the package comes first
        let m = FileSeen::Missing;
        assert!(plan(&on, (&m, &m, &m), None, &none).is_err());
        let p = plan(&on, (&m, &m, &m), None, &["ufw"]).unwrap().unwrap();
        assert_eq!(p.details, vec!["/etc/ufw/ufw.conf known after ufw"]);
    }
}
