//! `certbot:` — a certificate of an ACME CA (Let's Encrypt) obtained on the host by certbot,
//! kept as certbot's lineage `/etc/letsencrypt/live/NAME` (the `certbot certonly …` and
//! `certbot --nginx …` lines of many roles).
//!
//! ```yaml
//! - certbot: example.org                 # certbot's --cert-name
//!   domains: [example.org, www.example.org]   # default [NAME]
//!   email: ops@example.org               # else --register-unsafely-without-email
//!   method: webroot                      # standalone (default), nginx, apache, webroot
//!   webroot: /var/www/acme               # method webroot only
//!   certonly: true                       # false: certbot also installs it (nginx, apache)
//!   server: https://acme-v02.api.letsencrypt.org/directory
//!   environment: {REQUESTS_CA_BUNDLE: /etc/ssl/private-ca.pem}
//!   key_type: ecdsa                      # or rsa (with rsa_key_size); default certbot's
//!   pre_hook: systemctl stop nginx       # certbot's --pre-hook (only when it obtains/renews)
//!   post_hook: systemctl start nginx     # certbot's --post-hook
//! ```
//!
//! Probe record (one per declared lineage, no network):
//! `certbot \0 NAME \0 STATE \0 SERVER \0 KEYTYPE \0 RSASIZE \0 REUSE \0 ACCOUNT \0 PRE \0 POST \0 TEXT \0`:
//! STATE `missing` (neither `renewal/NAME.conf` nor `live/NAME`), `orphan` (`live/NAME`
//! without its renewal conf), `nocert` (the renewal conf without a `live/NAME/fullchain.pem`),
//! `noopenssl`, or `ok` with TEXT what `openssl x509` prints of the fullchain's first
//! certificate (subjectAltName, notAfter, expired by the host's clock: [`super::tls`]'s `x509`
//! form); SERVER, KEYTYPE, RSASIZE, REUSE, PRE, POST the `server`, `key_type`, `rsa_key_size`,
//! `reuse_key`, `pre_hook`, `post_hook` of the renewal conf's `[renewalparams]` (as written:
//! a hook may be quoted the way configobj, certbot's conf library, quotes), read with shell
//! builtins; ACCOUNT what play
//! recorded of the contact of the account the conf names (`account =`): `=EMAIL` (its
//! [`CONTACT_FILE`]), `?` (the account's folder without one), empty (no such folder). One
//! `openssl` process per existing lineage; nothing for a missing one.
//!
//! The account's contact lives on the ACME server only: certbot keeps none of it on the host
//! (its `regr.json` holds `"body": {}`, and `certonly --email` is ignored once the server has
//! an account). `certbot update_account --email` changes the contact of the existing account
//! without obtaining anything; after it succeeds play writes the email to [`CONTACT_FILE`] in
//! the account's folder (which goes with the folder when certbot deletes the account).
//!
//! Plan: obtained when the lineage is missing, when its certificate's names are not exactly
//! `domains` (the domains added and removed are said), when it has expired, or was issued by
//! another `server`, or has another `key_type`, or (an rsa key) another `rsa_key_size`;
//! `--new-key` when the key changes and the conf has `reuse_key`. The account's contact is
//! set (`certbot update_account`) when `email` is given and play's record says otherwise;
//! its `pre_hook`/`post_hook` (which certbot runs only when it obtains or renews, and keeps in
//! the renewal conf for the renewals of its timer) passed to an obtain, and otherwise, when
//! the conf records others, written into the conf's `[renewalparams]` by play (certbot 2.1 has
//! no command that changes them without obtaining: `certbot reconfigure` came with 2.3 and
//! makes a test renewal against the CA, running the hooks); deleted (`certbot delete`) with
//! `state: absent`. Renewal stays certbot's
//! (its timer renews before expiry). Apply: one `certbot certonly` (or `certbot run` with
//! `certonly: false`) with `--non-interactive --agree-tos --cert-name NAME -d D…`, its
//! `environment` exported in the step's subshell (on stdin, never in an argv); certbot writes
//! its lineage itself. The private key stays in `/etc/letsencrypt`: the probe reads only the
//! certificate.

use super::deploy::{set_args, Planned, Refused};
use super::registry::Key;
use super::{Action, Presence};
use crate::resolve::{Base, Keys, ResolveError};
use crate::transport::shell_quote;

/// Let's Encrypt's production directory (certbot's default `--server`).
pub const DEFAULT_SERVER: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// certbot's configuration folder (its `--config-dir` default).
pub const CONFIG_DIR: &str = "/etc/letsencrypt";

/// play's record, in an account's folder, of the contact `certbot update_account` gave it.
pub const CONTACT_FILE: &str = "play-email";

/// certbot's `--rsa-key-size` default: the size of an rsa key whose conf records none.
pub const DEFAULT_RSA_KEY_SIZE: u32 = 2048;

/// How certbot proves control of the domains (its authenticator, and installer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Method {
    /// certbot's own web server on port 80 (`--standalone`).
    #[default]
    Standalone,
    /// nginx's plugin (`--nginx`).
    Nginx,
    /// apache's plugin (`--apache`).
    Apache,
    /// Files written below a folder a web server serves (`--webroot -w PATH`).
    Webroot(String),
}

impl Method {
    fn name(&self) -> &'static str {
        match self {
            Method::Standalone => "standalone",
            Method::Nginx => "nginx",
            Method::Apache => "apache",
            Method::Webroot(_) => "webroot",
        }
    }

    /// The configuration a change earlier in the run may alter before certbot reads it.
    fn reads(&self) -> Option<&str> {
        match self {
            Method::Standalone => None,
            Method::Nginx => Some("/etc/nginx"),
            Method::Apache => Some("/etc/apache2"),
            Method::Webroot(p) => Some(p),
        }
    }
}

/// One lineage, rendered for one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertbotSpec {
    /// certbot's `--cert-name`.
    pub name: String,
    pub presence: Presence,
    /// Lower case, in order, each once.
    pub domains: Vec<String>,
    pub email: Option<String>,
    pub method: Method,
    pub certonly: bool,
    pub server: String,
    /// `rsa` or `ecdsa` (`--key-type`); `None`: certbot's default, not checked.
    pub key_type: Option<String>,
    /// `--rsa-key-size`; checked when the lineage's key is rsa.
    pub rsa_key_size: Option<u32>,
    /// Variables exported to certbot.
    pub environment: Vec<(String, String)>,
    /// `--pre-hook` (`None`: none; the renewal conf then records none).
    pub pre_hook: Option<String>,
    /// `--post-hook`.
    pub post_hook: Option<String>,
    /// Its folder `live/NAME`, which its step makes: what lies below is known after it.
    pub live: String,
}

/// What the probe saw of a lineage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Missing,
    /// `live/NAME` without `renewal/NAME.conf`: not a lineage certbot knows.
    Orphan,
    /// The renewal conf (its server and key type) without a certificate.
    NoCert {
        conf: Conf,
    },
    NoOpenssl,
    Cert {
        conf: Conf,
        cert: CertSeen,
    },
}

/// What the probe read of a lineage's renewal conf.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conf {
    pub server: String,
    /// Empty: the conf has none (an older certbot's, whose keys were rsa).
    pub key_type: String,
    /// Empty: none recorded (certbot's default, [`DEFAULT_RSA_KEY_SIZE`]).
    pub rsa_key_size: String,
    /// `reuse_key = True`: renewals keep the private key (a new size or type needs `--new-key`).
    pub reuse_key: bool,
    /// What play recorded of its account's contact.
    pub contact: Contact,
    /// Its `pre_hook` (as certbot reads it: unquoted; `None`: none, or `None`).
    pub pre_hook: Option<String>,
    pub post_hook: Option<String>,
}

/// What play recorded of the contact of a lineage's ACME account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Contact {
    /// The conf names no account folder that exists.
    #[default]
    NoAccount,
    /// The account's folder has no [`CONTACT_FILE`].
    Unrecorded,
    Recorded(String),
}

/// What the probe saw of a lineage's certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertSeen {
    /// Its subjectAltName's DNS names, lower case (`None`: openssl could not read it).
    pub names: Option<Vec<String>>,
    pub not_after: String,
    pub expired: bool,
}

/// Reads a `certbot` record's fields after the name: STATE, SERVER, KEYTYPE, RSASIZE, REUSE,
/// ACCOUNT, PRE, POST, TEXT.
pub fn parse_seen(fields: &[&str]) -> Option<Seen> {
    let [state, server, key_type, rsa_key_size, reuse, account, pre, post, text] = fields else {
        return None;
    };
    let contact = match *account {
        "" => Contact::NoAccount,
        "?" => Contact::Unrecorded,
        a => Contact::Recorded(a.strip_prefix('=')?.trim().to_string()),
    };
    let conf = Conf {
        server: server.trim().to_string(),
        key_type: key_type.trim().to_string(),
        rsa_key_size: rsa_key_size.trim().to_string(),
        reuse_key: reuse.trim().eq_ignore_ascii_case("true"),
        contact,
        pre_hook: read_conf_value(pre),
        post_hook: read_conf_value(post),
    };
    let (state, text) = (*state, *text);
    Some(match state {
        "missing" => Seen::Missing,
        "orphan" => Seen::Orphan,
        "nocert" => Seen::NoCert { conf },
        "noopenssl" => Seen::NoOpenssl,
        "ok" => Seen::Cert {
            conf,
            cert: parse_cert(text),
        },
        _ => return None,
    })
}

/// Reads `openssl x509 -noout -ext subjectAltName -enddate -checkend 0`.
fn parse_cert(text: &str) -> CertSeen {
    let mut names = Vec::new();
    let mut in_san = false;
    let mut seen = CertSeen::default();
    let mut verdict = None;
    for l in text.lines() {
        if l.starts_with("X509v3 Subject Alternative Name") {
            in_san = true;
        } else if in_san && l.starts_with(char::is_whitespace) {
            names.extend(
                (l.split(','))
                    .filter_map(|s| s.trim().strip_prefix("DNS:"))
                    .map(str::to_ascii_lowercase),
            );
        } else {
            in_san = false;
            if let Some(d) = l.strip_prefix("notAfter=") {
                seen.not_after = d.trim().to_string();
            } else if l.starts_with("Certificate will not expire") {
                verdict = Some(false);
            } else if l.starts_with("Certificate will expire") {
                verdict = Some(true);
            }
        }
    }
    match verdict {
        Some(expired) => {
            seen.expired = expired;
            seen.names = Some(names);
        }
        None => seen.names = None,
    }
    seen
}

/// A value of a renewal conf as certbot reads it (configobj, one line): `"…"`, `'…'`,
/// `"""…"""` or `'''…'''` unquoted, an unquoted one up to a `#` comment; `None` for none, an
/// empty value or `None` (certbot's own reading of a missing string).
pub fn read_conf_value(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let comment_after = |rest: &str| {
        let r = rest.trim_start();
        r.is_empty() || r.starts_with('#')
    };
    let mut value = None;
    for q in ["\"\"\"", "'''", "\"", "'"] {
        let Some(body) = raw.strip_prefix(q) else {
            continue;
        };
        // the first closing quote after which only a comment follows (configobj's lazy match)
        value = (body.char_indices())
            .map(|(i, _)| i)
            .find(|&i| body[i..].starts_with(q) && comment_after(&body[i + q.len()..]))
            .map(|i| body[..i].to_string());
        if value.is_some() {
            break;
        }
    }
    let v = value.unwrap_or_else(|| raw.split('#').next().unwrap_or_default().trim().to_string());
    (!v.is_empty() && v != "None").then_some(v)
}

/// A hook as a renewal conf value configobj reads back as `v` (quoted when it must be: a
/// `,`, a `#`, a quote, a space at either end), or why it cannot be one.
pub fn conf_value(v: &str) -> Result<String, String> {
    if v.contains(['\n', '\r']) {
        return Err(
            "has a line break (certbot keeps a hook on one line of its renewal conf)".into(),
        );
    }
    if v.contains("'''") || v.contains("\"\"\"") {
        return Err("has three quotes in a row (certbot's renewal conf cannot keep it)".into());
    }
    let (sq, dq) = (v.contains('\''), v.contains('"'));
    let edge = |c: Option<char>| c.is_some_and(|c| " \t\x0b'\"".contains(c));
    Ok(if sq && dq {
        format!("\"\"\"{v}\"\"\"")
    } else if v.is_empty()
        || v.contains([',', '#'])
        || edge(v.chars().next())
        || edge(v.chars().last())
    {
        if dq {
            format!("'{v}'")
        } else {
            format!("\"{v}\"")
        }
    } else {
        v.to_string()
    })
}

/// Shell reading the `[renewalparams]` of the renewal conf `conf` (quoted) with builtins when
/// it is a file: each `(KEY, VAR)` sets `$VAR` to the value of `KEY =`.
fn read_params(conf: &str, keys: &[(&str, &str)]) -> String {
    let cases: String = (keys.iter())
        .map(|(k, v)| format!("        \"{k} \"|{k}) {v}=$cb_v ;;\n"))
        .collect();
    format!(
        r#"cb_in=
if [ -f {conf} ]; then
  while IFS= read -r l || [ -n "$l" ]; do
    case $l in
      "[renewalparams]"*) cb_in=1 ;;
      "["*) cb_in= ;;
      *=*) [ -n "$cb_in" ] || continue
        cb_v=${{l#*=}}; cb_v=${{cb_v# }}
        case ${{l%%=*}} in
{cases}        esac ;;
    esac
  done < {conf}
fi
"#
    )
}

/// The renewal conf of the lineage `name`.
fn conf_path(name: &str) -> String {
    format!("{CONFIG_DIR}/renewal/{name}.conf")
}

/// certbot's folder of the accounts of `server` (`accounts/` then the URL's host and path, as
/// its `server_path`).
pub fn accounts_dir(server: &str) -> String {
    let rest = server.split_once("://").map_or(server, |(_, r)| r);
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    format!("{CONFIG_DIR}/accounts/{}", rest.trim_end_matches('/'))
}

/// The probe fragment of one lineage (see the module's record). live/NAME/fullchain.pem is
/// certbot's link into `archive/`: both folders are root's (0700), and openssl only reads it.
/// Of the account it reads only play's [`CONTACT_FILE`] (never its key).
pub fn probe_fragment(name: &str) -> String {
    let n = shell_quote(name);
    let live = shell_quote(&format!("{CONFIG_DIR}/live/{name}"));
    let chain = shell_quote(&format!("{CONFIG_DIR}/live/{name}/fullchain.pem"));
    let conf = shell_quote(&conf_path(name));
    let accounts = shell_quote(&format!("{CONFIG_DIR}/accounts"));
    let read = read_params(
        &conf,
        &[
            ("server", "cb_s"),
            ("key_type", "cb_k"),
            ("rsa_key_size", "cb_z"),
            ("reuse_key", "cb_r"),
            ("account", "cb_a"),
            ("pre_hook", "cb_h"),
            ("post_hook", "cb_j"),
        ],
    );
    format!(
        r#"printf 'certbot\0%s\0' {n}
cb_s= cb_k= cb_z= cb_r= cb_a= cb_c= cb_h= cb_j=
{read}if [ -f {conf} ]; then
  cb_p=${{cb_s#*://}}; cb_p=${{cb_p%%[?#]*}}; cb_p=${{cb_p%/}}
  case $cb_s in *://*) ;; *) cb_a= ;; esac
  case /$cb_p/ in */../*) cb_a= ;; esac
  case $cb_a in
    ''|*[!0-9A-Za-z_-]*) ;;
    *) cb_d={accounts}/$cb_p/$cb_a
      if [ -d "$cb_d" ]; then
        if [ -f "$cb_d/{CONTACT_FILE}" ]; then IFS= read -r cb_c < "$cb_d/{CONTACT_FILE}"; cb_c="=$cb_c"; else cb_c='?'; fi
      fi ;;
  esac
  if ! [ -f {chain} ]; then printf '%s\0' nocert "$cb_s" "$cb_k" "$cb_z" "$cb_r" "$cb_c" "$cb_h" "$cb_j" ''
  elif ! command -v openssl >/dev/null 2>&1; then printf '%s\0' noopenssl "$cb_s" "$cb_k" "$cb_z" "$cb_r" "$cb_c" "$cb_h" "$cb_j" ''
  else
    cb_o=$(openssl x509 -noout -ext subjectAltName -enddate -checkend 0 -in {chain} </dev/null 2>/dev/null)
    printf '%s\0' ok "$cb_s" "$cb_k" "$cb_z" "$cb_r" "$cb_c" "$cb_h" "$cb_j" "$cb_o"
  fi
elif [ -e {live} ] || [ -L {live} ]; then printf 'orphan\0\0\0\0\0\0\0\0\0'
else printf 'missing\0\0\0\0\0\0\0\0\0'
fi
"#
    )
}

/// What apply does to a lineage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertbotOp {
    /// `certbot certonly|run`; `force`: the lineage exists (`--force-renewal`: certbot would
    /// keep a certificate not yet due); `new_key`: a new key although the conf has
    /// `reuse_key`. Then, with an `email`, the account's contact as [`CertbotOp::Contact`]
    /// when play's record says otherwise.
    Obtain {
        force: bool,
        new_key: bool,
    },
    /// `certbot update_account --email` on the lineage's account, then play's record of it.
    Contact,
    /// The renewal conf's `pre_hook`/`post_hook` rewritten (no certificate obtained, no hook
    /// run); then, with `contact`, as [`CertbotOp::Contact`].
    Hooks {
        contact: bool,
    },
    Delete,
}

/// Plans one lineage. `changed`: keys of the host's changes planned before it.
pub fn plan(
    spec: &CertbotSpec,
    seen: &Seen,
    changed: &[&str],
) -> Result<Option<Planned<CertbotOp>>, Refused> {
    if spec.presence == Presence::Absent {
        return Ok((*seen != Seen::Missing).then(|| Planned {
            action: Action::Delete,
            details: vec![format!("certbot delete --cert-name {}", spec.name)],
            work: CertbotOp::Delete,
        }));
    }
    let mut wrong = Vec::new();
    let conf = match seen {
        Seen::Missing => None,
        Seen::Orphan => {
            return Err(Refused(format!(
                "{}/live/{} exists without renewal/{}.conf: not a lineage certbot knows (remove it, or choose another name)",
                CONFIG_DIR, spec.name, spec.name
            )))
        }
        Seen::NoOpenssl => {
            return Err(Refused(format!(
                "certbot {}: the host has no openssl to read its certificate (install it first: `package: openssl`)",
                spec.name
            )))
        }
        Seen::NoCert { conf } => {
            wrong.push("renewal conf without a certificate: obtained again".into());
            Some(conf)
        }
        Seen::Cert { conf, cert } => {
            match &cert.names {
                None => wrong.push("not a certificate openssl reads: obtained again".into()),
                Some(names) => {
                    for d in &spec.domains {
                        if !names.contains(d) {
                            wrong.push(format!("+ domain {d}"));
                        }
                    }
                    for n in names {
                        if !spec.domains.contains(n) {
                            wrong.push(format!("- domain {n}"));
                        }
                    }
                    if cert.expired {
                        wrong.push(format!("expired ({}): obtained again", cert.not_after));
                    }
                }
            }
            Some(conf)
        }
    };
    let mut new_key = false;
    let mut contact = None;
    let mut contact_after = conf.is_none();
    let hooks = conf.map(|c| hook_changes(spec, c)).unwrap_or_default();
    if let Some(conf) = conf {
        if !conf.server.is_empty() && conf.server != spec.server {
            wrong.push(format!("server {} → {}", conf.server, spec.server));
            contact_after = true;
        } else {
            contact = contact_change(spec, &conf.contact);
        }
        if key_change(spec, conf, &mut wrong) && conf.reuse_key {
            wrong.push("reuse_key is set in its renewal conf: --new-key".into());
            new_key = true;
        }
    }
    let create = *seen == Seen::Missing;
    if !create && wrong.is_empty() {
        if hooks.is_empty() {
            return Ok(contact.map(|c| Planned {
                action: Action::Update,
                details: vec![c],
                work: CertbotOp::Contact,
            }));
        }
        let mut details = hooks;
        details.push(format!(
            "written into {}: no certificate obtained, no hook run now (certbot runs them at its next renewal)",
            conf_path(&spec.name)
        ));
        let work = CertbotOp::Hooks {
            contact: contact.is_some(),
        };
        details.extend(contact);
        return Ok(Some(Planned {
            action: Action::Update,
            details,
            work,
        }));
    }
    let mut details = if create {
        vec![format!(
            "obtain {} from {} ({})",
            spec.domains.join(", "),
            spec.server,
            spec.method.name()
        )]
    } else {
        wrong.extend(hooks);
        wrong
    };
    details.extend(hook_runs(spec));
    details.extend(contact);
    if let (Some(e), true) = (&spec.email, contact_after) {
        details.push(format!(
            "account email {e}: set after certbot obtains, unless play's record says so (its account is known after this step)"
        ));
    }
    if let Some(r) = spec.method.reads() {
        if let Some(k) = changed
            .iter()
            .find(|k| super::tree::is_under(k, r) || super::tree::normalize(k) == r)
        {
            details.push(format!(
                "certbot's {} reads {r} after the change of {k} earlier in this run",
                spec.method.name()
            ));
        }
    }
    Ok(Some(Planned {
        action: if create {
            Action::Create
        } else {
            Action::Update
        },
        details,
        work: CertbotOp::Obtain {
            force: !create,
            new_key,
        },
    }))
}

/// The hooks its renewal conf records otherwise than the spec (`pre_hook OLD → NEW`).
fn hook_changes(spec: &CertbotSpec, conf: &Conf) -> Vec<String> {
    let show = |h: &Option<String>| h.as_ref().map_or("(none)".into(), |h| format!("`{h}`"));
    [
        ("pre_hook", &conf.pre_hook, &spec.pre_hook),
        ("post_hook", &conf.post_hook, &spec.post_hook),
    ]
    .into_iter()
    .filter(|(_, have, want)| have != want)
    .map(|(k, have, want)| format!("{k} {} → {}", show(have), show(want)))
    .collect()
}

/// What certbot runs around the obtain of the step (the hooks of the spec).
fn hook_runs(spec: &CertbotSpec) -> Option<String> {
    let runs: Vec<String> = [
        (&spec.pre_hook, "pre_hook", "before"),
        (&spec.post_hook, "post_hook", "after"),
    ]
    .into_iter()
    .filter_map(|(h, k, when)| h.as_ref().map(|h| format!("its {k} `{h}` {when}")))
    .collect();
    (!runs.is_empty()).then(|| {
        format!(
            "certbot runs {} obtaining, and keeps {} for its renewals",
            runs.join(" and "),
            if runs.len() == 1 { "it" } else { "them" }
        )
    })
}

/// What its renewal conf says of the key otherwise than the spec (a key type, an rsa key's
/// size); true when the key changes.
fn key_change(spec: &CertbotSpec, conf: &Conf, wrong: &mut Vec<String>) -> bool {
    let before = wrong.len();
    // A conf without key_type is an older certbot's, whose keys were rsa.
    let have = if conf.key_type.is_empty() {
        "rsa"
    } else {
        conf.key_type.as_str()
    };
    if let Some(k) = &spec.key_type {
        if !conf.key_type.is_empty() && conf.key_type != *k {
            wrong.push(format!("key_type {} → {k}", conf.key_type));
        }
    }
    // Without key_type certbot keeps the lineage's: the size counts for an rsa key only.
    let rsa = spec.key_type.as_deref().unwrap_or(have) == "rsa" && have == "rsa";
    if let (Some(n), true) = (spec.rsa_key_size, rsa) {
        let size = &conf.rsa_key_size;
        let now = if size.is_empty() {
            Some(DEFAULT_RSA_KEY_SIZE)
        } else {
            size.parse::<u32>().ok()
        };
        if now != Some(n) {
            let shown = if size.is_empty() {
                format!("{DEFAULT_RSA_KEY_SIZE} (certbot's default)")
            } else {
                size.clone()
            };
            wrong.push(format!("rsa_key_size {shown} → {n}"));
        }
    }
    wrong.len() > before
}

/// The change of the account's contact, when `email` is given and play's record differs.
fn contact_change(spec: &CertbotSpec, contact: &Contact) -> Option<String> {
    let e = spec.email.as_ref()?;
    let now = match contact {
        Contact::Recorded(r) if r == e => return None,
        Contact::Recorded(r) => r.as_str(),
        Contact::Unrecorded => "(not recorded by play)",
        Contact::NoAccount => "(the account its renewal conf names is not found)",
    };
    Some(format!("account email {now} → {e}"))
}

/// certbot's arguments for the work (for [`CertbotOp::Contact`], all but `--account ID`,
/// which the step reads from the renewal conf).
pub fn args(spec: &CertbotSpec, op: &CertbotOp) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    let push = |a: &mut Vec<String>, items: &[&str]| a.extend(items.iter().map(|s| s.to_string()));
    match op {
        CertbotOp::Delete => push(
            &mut a,
            &["delete", "--non-interactive", "--cert-name", &spec.name],
        ),
        CertbotOp::Contact | CertbotOp::Hooks { .. } => {
            push(
                &mut a,
                &[
                    "update_account",
                    "--non-interactive",
                    "--no-eff-email",
                    "--server",
                    &spec.server,
                ],
            );
            if let Some(e) = &spec.email {
                push(&mut a, &["--email", e]);
            }
        }
        CertbotOp::Obtain { force, new_key } => {
            a.push(if spec.certonly { "certonly" } else { "run" }.into());
            push(
                &mut a,
                &[
                    "--non-interactive",
                    "--agree-tos",
                    "--cert-name",
                    &spec.name,
                ],
            );
            for d in &spec.domains {
                push(&mut a, &["-d", d]);
            }
            match &spec.method {
                Method::Webroot(p) => push(&mut a, &["--webroot", "-w", p]),
                m => a.push(format!("--{}", m.name())),
            }
            push(&mut a, &["--server", &spec.server]);
            if let Some(k) = &spec.key_type {
                push(&mut a, &["--key-type", k]);
            }
            if let Some(n) = spec.rsa_key_size {
                push(&mut a, &["--rsa-key-size", &n.to_string()]);
            }
            match &spec.email {
                Some(e) => push(&mut a, &["--email", e]),
                None => a.push("--register-unsafely-without-email".into()),
            }
            // `--pre-hook=…` in one word: a hook starting with `-` is not taken for a flag
            if let Some(h) = &spec.pre_hook {
                a.push(format!("--pre-hook={h}"));
            }
            if let Some(h) = &spec.post_hook {
                a.push(format!("--post-hook={h}"));
            }
            if *force {
                a.push("--force-renewal".into());
            }
            if *new_key {
                a.push("--new-key".into());
            }
        }
    }
    a
}

/// Lines running certbot with `args` (`set -- …` and more) in a subshell at `/`, its
/// `environment` exported there.
fn run_certbot(i: usize, spec: &CertbotSpec, args: &str) -> String {
    let env = super::exports(&spec.environment);
    format!(
        "(cd / && umask 022\n{env}{args}\nexec certbot \"$@\") </dev/null 1>&2 || play_fail {i}\n"
    )
}

/// Lines giving the lineage's account the contact `email` unless play's record says so:
/// the account named by the renewal conf (read now: an obtain just before may have made it),
/// `certbot update_account`, then the record written in the account's folder (entered with
/// `play_enter`, a temp file renamed into place).
fn contact_lines(i: usize, spec: &CertbotSpec, email: &str) -> String {
    let read = read_params(&shell_quote(&conf_path(&spec.name)), &[("account", "cb_a")]);
    let none = shell_quote(&format!(
        "{}: names no account (certbot update_account needs one)",
        conf_path(&spec.name)
    ));
    let dir = shell_quote(&accounts_dir(&spec.server));
    let e = shell_quote(email);
    let update = format!(
        "{}\nset -- \"$@\" --account \"$cb_a\"",
        set_args(&args(spec, &CertbotOp::Contact))
    );
    let run = run_certbot(i, spec, &update);
    format!(
        r#"cb_a=
{read}case $cb_a in ''|*[!0-9A-Za-z_-]*) printf '%s\n' {none} >&2; play_fail {i} ;; esac
cb_d={dir}/$cb_a cb_e=
if [ -f "$cb_d/{CONTACT_FILE}" ]; then IFS= read -r cb_e < "$cb_d/{CONTACT_FILE}"; fi
if [ "$cb_e" != {e} ]; then
{run}play_enter "$cb_d" || play_fail {i}
play_tmp "$cb_d/.{CONTACT_FILE}.play-tmp.XXXXXX" || play_fail {i}
printf '%s\n' {e} > "$t" || play_fail {i}
mv -f -T -- "$t" {CONTACT_FILE} || play_fail {i}
t=
fi
"#
    )
}

/// Lines writing the spec's hooks into the `[renewalparams]` of the lineage's renewal conf,
/// in place of those it has (the other lines kept as they are): a temp file with the conf's
/// owner and mode, renamed over it. A conf that is not a regular file is not touched.
fn hook_lines(i: usize, spec: &CertbotSpec, conf: &str) -> Result<String, String> {
    let mut lines = String::new();
    for (k, h) in [("pre_hook", &spec.pre_hook), ("post_hook", &spec.post_hook)] {
        if let Some(h) = h {
            let v = conf_value(h).map_err(|m| format!("{k}: `{h}` {m}"))?;
            lines.push(' ');
            lines.push_str(&shell_quote(&format!("{k} = {v}")));
        }
    }
    let (dir, file) = super::deploy::split_path(conf);
    let print = if lines.is_empty() {
        String::new()
    } else {
        format!("printf '%s\\n'{lines}")
    };
    let (d, f) = (shell_quote(&dir), shell_quote(&file));
    let tmp = shell_quote(&format!("./.{file}.play-tmp.XXXXXX"));
    let not_file = shell_quote(&format!("{conf}: not a regular file"));
    Ok(format!(
        r#"play_enter {d} || play_fail {i}
if [ -L {f} ] || ! [ -f {f} ]; then printf '%s\n' {not_file} >&2; play_fail {i}; fi
play_tmp {tmp} || play_fail {i}
cb_in= cb_done=
{{
  while IFS= read -r l || [ -n "$l" ]; do
    case $l in
      "[renewalparams]"*) printf '%s\n' "$l"; cb_in=1 cb_done=1
        {print}
        continue ;;
      "["*) cb_in= ;;
      *=*) if [ -n "$cb_in" ]; then
          case ${{l%%=*}} in "pre_hook "|pre_hook|"post_hook "|post_hook) continue ;; esac
        fi ;;
    esac
    printf '%s\n' "$l"
  done < {f}
  if [ -z "$cb_done" ]; then printf '\n[renewalparams]\n'; {print}
  fi
}} > "$t" || play_fail {i}
chown --reference={f} -- "$t" && chmod --reference={f} -- "$t" || play_fail {i}
mv -f -T -- "$t" {f} || play_fail {i}
t=
"#
    ))
}

/// The apply step of one lineage (inside the apply script: `play_ok`, `play_fail`); an
/// error for a hook its renewal conf cannot keep (which `from_entry` refuses first).
pub fn apply_fragment(index: usize, spec: &CertbotSpec, op: &CertbotOp) -> Result<String, String> {
    let i = index;
    let missing =
        shell_quote("certbot is not installed on the host (declare `package: certbot` before it)");
    let mut s = format!(
        "# certbot {name}\nprintf '\\0play-step\\0%s\\0' {i} >&2\n\
if ! command -v certbot >/dev/null 2>&1; then printf '%s\\n' {missing} >&2; play_fail {i}; fi\n",
        name = spec.name,
    );
    let contact = match op {
        CertbotOp::Obtain { .. } | CertbotOp::Contact => true,
        CertbotOp::Hooks { contact } => *contact,
        CertbotOp::Delete => false,
    };
    match op {
        CertbotOp::Contact => {}
        CertbotOp::Hooks { .. } => s.push_str(&hook_lines(i, spec, &conf_path(&spec.name))?),
        _ => s.push_str(&run_certbot(i, spec, &set_args(&args(spec, op)))),
    }
    if let (Some(e), true) = (&spec.email, contact) {
        s.push_str(&contact_lines(i, spec, e));
    }
    s.push_str(&format!("play_ok {i}\n"));
    Ok(s)
}

impl super::Spec for CertbotSpec {
    type Work = CertbotOp;
    const DEF: &'static super::registry::KindDef = &DEF;
    fn key(&self) -> &str {
        &self.name
    }
    fn has_nul(&self) -> bool {
        super::any_nul(&[
            Some(&self.name),
            self.email.as_deref(),
            Some(&self.server),
            self.method.reads(),
            self.pre_hook.as_deref(),
            self.post_hook.as_deref(),
        ]) || self.domains.iter().any(|d| d.contains('\0'))
            || super::env_has_nul(&self.environment)
    }
    fn creates(&self) -> Option<&str> {
        (self.presence == Presence::Present).then_some(self.live.as_str())
    }
    fn add_probe(&self, p: &mut super::deploy::DeployProbe) {
        p.add_fragment(probe_fragment(&self.name));
    }
    fn plan_work(
        &self,
        observed: &super::Observed,
        changed: &[&str],
    ) -> Result<Option<Planned<Self::Work>>, Refused> {
        let seen = self
            .seen(observed)
            .ok_or_else(|| super::deploy::not_probed("the certbot lineage"))?;
        plan(self, &seen, changed)
    }
    fn apply_fragment(
        &self,
        index: usize,
        work: Option<&Self::Work>,
        _last: bool,
    ) -> Option<Result<(String, Vec<u8>), String>> {
        work.map(|op| apply_fragment(index, self, op).map(|f| (f, Vec::new())))
    }
    fn depends(&self, observed: &super::Observed, out: &mut super::Prints) {
        if let Some(s) = self.seen(observed) {
            out.insert(format!("certbot {}", self.name), format!("{s:?}"));
        }
    }
}

impl CertbotSpec {
    /// Its `certbot` record, read.
    fn seen(&self, observed: &super::Observed) -> Option<Seen> {
        let fields = observed.deploy.record("certbot", &self.name)?;
        parse_seen(&fields.iter().map(String::as_str).collect::<Vec<_>>())
    }
}

/// The registry line of `certbot:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Certbot,
    name: "certbot",
    keys: &[
        Key::Any("domains"),
        Key::Text("email"),
        Key::Text("method"),
        Key::Text("webroot"),
        Key::Any("certonly"),
        Key::Text("server"),
        Key::Any("environment"),
        Key::Text("key_type"),
        Key::Any("rsa_key_size"),
        Key::Text("pre_hook"),
        Key::Text("post_hook"),
    ],
    is_path: false,
    watchable: true,
    docs_section: "`certbot: NAME` — a Let's Encrypt (ACME) certificate obtained by certbot",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key: check_name,
    render: super::registry::Render::Fn(from_entry),
    check_value,
    records: &[super::registry::Record {
        tag: "certbot",
        fields: 10,
        per_host: false,
    }],
    check_entry: super::registry::any_entry,
};

/// A lineage name (certbot's `--cert-name`): a file name of `live/` and `renewal/`.
pub fn check_name(name: &str) -> Result<String, String> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.starts_with('-')
        && (name.chars()).all(|c| c.is_ascii_alphanumeric() || "._-*".contains(c));
    if ok {
        Ok(name.to_string())
    } else {
        Err(format!(
            "certbot `{name}`: not a certificate name (letters, digits, `.`, `-`, `_`, as certbot's --cert-name; usually the first domain)"
        ))
    }
}

/// One of `domains`: a DNS name (a `*.` wildcard too), lower-cased.
pub fn check_domain(d: &str) -> Result<String, String> {
    let low = d.trim().to_ascii_lowercase();
    let body = low.strip_prefix("*.").unwrap_or(&low);
    let ok = !body.is_empty()
        && !body.starts_with(['-', '.'])
        && !body.ends_with('.')
        && (body.chars()).all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if ok {
        Ok(low)
    } else {
        Err(format!(
            "domains: `{d}` is not a domain name (one name per item: certbot's -d)"
        ))
    }
}

fn check_method(m: &str) -> Result<(), String> {
    match m {
        "standalone" | "nginx" | "apache" | "webroot" => Ok(()),
        other => Err(format!(
            "method: `{other}` is not one of standalone, nginx, apache, webroot"
        )),
    }
}

fn check_server(s: &str) -> Result<(), String> {
    if (s.starts_with("https://") || s.starts_with("http://")) && !s.contains(char::is_whitespace) {
        Ok(())
    } else {
        Err(format!(
            "server: `{s}` is not an ACME directory URL (https://…/directory)"
        ))
    }
}

fn check_email(e: &str) -> Result<(), String> {
    if e.contains('@') && !e.starts_with('-') && !e.contains(char::is_whitespace) {
        Ok(())
    } else {
        Err(format!("email: `{e}` is not an email address"))
    }
}

/// A `pre_hook`/`post_hook` (`key`): a shell command certbot keeps on one line of its
/// renewal conf.
fn check_hook(key: &str, h: &str) -> Result<(), String> {
    if h.trim() == "None" {
        return Err(format!(
            "{key}: `None` is what certbot's renewal conf says for no hook (leave {key} out)"
        ));
    }
    conf_value(h)
        .map(|_| ())
        .map_err(|m| format!("{key}: `{h}` {m}"))
}

fn check_key_type(k: &str) -> Result<(), String> {
    match k {
        "rsa" | "ecdsa" => Ok(()),
        other => Err(format!("key_type: `{other}` is not rsa or ecdsa")),
    }
}

/// [`super::registry::KindDef::check_value`]: the literal values the importer writes.
pub fn check_value(key: &str, value: &str) -> Result<(), String> {
    if value.contains("{{") {
        return Ok(());
    }
    match key {
        "domains" => check_domain(value).map(|_| ()),
        "method" => check_method(value),
        "server" => check_server(value),
        "email" => check_email(value),
        "key_type" => check_key_type(value),
        "pre_hook" | "post_hook" => check_hook(key, value),
        _ => Ok(()),
    }
}

/// The spec of a `certbot:` entry, its errors located at their keys.
pub fn from_entry(k: &Keys, b: Base) -> Result<super::Desired, ResolveError> {
    let Base { key, state, .. } = b;
    let presence = k.presence(&state)?;
    let mut domains: Vec<String> = Vec::new();
    for d in k.list("domains")?.unwrap_or_else(|| vec![key.clone()]) {
        let d = check_domain(&d).map_err(|m| k.fail("domains", m))?;
        if !domains.contains(&d) {
            domains.push(d);
        }
    }
    if domains.is_empty() {
        return Err(k.fail(
            "domains",
            "domains: none given (certbot needs one at least)".into(),
        ));
    }
    let method = k.string("method")?.unwrap_or_else(|| "standalone".into());
    check_method(&method).map_err(|m| k.fail("method", m))?;
    let webroot = k.path("webroot")?;
    let method = match (method.as_str(), webroot) {
        ("webroot", Some(w)) => Method::Webroot(w),
        ("webroot", None) => {
            return Err(k.fail(
                "method",
                "method webroot needs `webroot: PATH` (the folder the web server serves /.well-known/acme-challenge/ from)".into(),
            ))
        }
        (_, Some(_)) => {
            return Err(k.fail(
                "webroot",
                format!("webroot: only with `method: webroot` (this one is {method})"),
            ))
        }
        ("nginx", None) => Method::Nginx,
        ("apache", None) => Method::Apache,
        _ => Method::Standalone,
    };
    let certonly = k.boolean("certonly")?.unwrap_or(true);
    if !certonly && matches!(method, Method::Standalone | Method::Webroot(_)) {
        return Err(k.fail(
            "certonly",
            format!(
                "certonly: false has certbot install the certificate, which only method nginx or apache can (this one is {})",
                method.name()
            ),
        ));
    }
    let server = k.string("server")?.unwrap_or_else(|| DEFAULT_SERVER.into());
    check_server(&server).map_err(|m| k.fail("server", m))?;
    let email = k.string("email")?.filter(|e| !e.is_empty());
    if let Some(e) = &email {
        check_email(e).map_err(|m| k.fail("email", m))?;
    }
    let key_type = k.string("key_type")?;
    if let Some(t) = &key_type {
        check_key_type(t).map_err(|m| k.fail("key_type", m))?;
    }
    let rsa_key_size = match k.number("rsa_key_size")? {
        None => None,
        Some(n) if key_type.as_deref() == Some("ecdsa") => {
            return Err(k.fail(
                "rsa_key_size",
                format!("rsa_key_size: {n} with key_type ecdsa (only an rsa key has one)"),
            ))
        }
        Some(n) => Some(
            super::tls::check_range("rsa_key_size", n, 2048..=8192)
                .map_err(|m| k.fail("rsa_key_size", m))?,
        ),
    };
    let environment = k.mapping("environment")?;
    super::check_environment(&environment).map_err(|m| k.fail("environment", m))?;
    let hook = |key: &str| -> Result<Option<String>, ResolveError> {
        let h = k.string(key)?.filter(|h| !h.trim().is_empty());
        if let Some(h) = &h {
            check_hook(key, h).map_err(|m| k.fail(key, m))?;
        }
        Ok(h)
    };
    let (pre_hook, post_hook) = (hook("pre_hook")?, hook("post_hook")?);
    Ok(super::Desired::Certbot(CertbotSpec {
        presence,
        domains,
        email,
        method,
        certonly,
        server,
        key_type,
        rsa_key_size,
        environment,
        pre_hook,
        post_hook,
        live: format!("{CONFIG_DIR}/live/{key}"),
        name: key,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> CertbotSpec {
        CertbotSpec {
            name: "example.org".into(),
            domains: vec!["example.org".into(), "www.example.org".into()],
            method: Method::Webroot("/var/www/acme".into()),
            certonly: true,
            server: DEFAULT_SERVER.into(),
            ..Default::default()
        }
    }

    const TEXT: &str = "X509v3 Subject Alternative Name: \n    DNS:example.org, DNS:www.example.org\nnotAfter=Mar  2 15:21:36 2027 GMT\nCertificate will not expire";

    /// An `ok` record of an ecdsa lineage from the default server.
    fn record(account: &str, pre: &str, post: &str, text: &str) -> Seen {
        parse_seen(&[
            "ok",
            DEFAULT_SERVER,
            "ecdsa",
            "",
            "",
            account,
            pre,
            post,
            text,
        ])
        .unwrap()
    }

    fn cert(text: &str) -> Seen {
        record("=ops@example.org", "", "", text)
    }

    #[test]
    fn the_record_is_read() {
        let Seen::Cert { cert: c, conf } = cert(TEXT) else {
            panic!("not a cert")
        };
        assert_eq!(conf.server, DEFAULT_SERVER);
        assert_eq!(conf.key_type, "ecdsa");
        assert_eq!(
            c.names,
            Some(vec!["example.org".into(), "www.example.org".into()])
        );
        assert_eq!(c.not_after, "Mar  2 15:21:36 2027 GMT");
        assert!(!c.expired);
        let Seen::Cert { cert: junk, .. } = cert("") else {
            panic!("not a cert")
        };
        assert_eq!(junk.names, None);
        assert_eq!(conf.contact, Contact::Recorded("ops@example.org".into()));
        assert_eq!(
            parse_seen(&["missing", "", "", "", "", "", "", "", ""]),
            Some(Seen::Missing)
        );
        assert_eq!(parse_seen(&["what", "", "", "", "", "", "", "", ""]), None);
        assert_eq!(parse_seen(&["missing", "", "", ""]), None);
        let Some(Seen::NoCert { conf }) = parse_seen(&[
            "nocert",
            DEFAULT_SERVER,
            "rsa",
            "4096",
            "True",
            "?",
            "",
            "",
            "",
        ]) else {
            panic!("not nocert")
        };
        assert_eq!(conf.rsa_key_size, "4096");
        assert!(conf.reuse_key);
        assert_eq!(conf.contact, Contact::Unrecorded);
        let Some(Seen::NoCert { conf }) = parse_seen(&["nocert", "", "", "", "", "", "", "", ""])
        else {
            panic!("not nocert")
        };
        assert_eq!(conf.contact, Contact::NoAccount);
        assert!(!conf.reuse_key);
    }

    #[test]
    fn same_names_not_expired_same_server_is_no_change() {
        assert_eq!(plan(&spec(), &cert(TEXT), &[]).unwrap(), None);
    }

    #[test]
    fn names_expiry_and_server_are_said() {
        let t = TEXT
            .replace("DNS:www.example.org", "DNS:old.example.org")
            .replace("will not expire", "will expire");
        let mut s = spec();
        s.server = "https://127.0.0.1:14000/dir".into();
        s.key_type = Some("rsa".into());
        let p = plan(&s, &cert(&t), &[]).unwrap().unwrap();
        assert_eq!(p.action, Action::Update);
        assert_eq!(
            p.details,
            vec![
                "+ domain www.example.org",
                "- domain old.example.org",
                "expired (Mar  2 15:21:36 2027 GMT): obtained again",
                "server https://acme-v02.api.letsencrypt.org/directory → https://127.0.0.1:14000/dir",
                "key_type ecdsa → rsa",
            ]
        );
        assert_eq!(
            p.work,
            CertbotOp::Obtain {
                force: true,
                new_key: false
            }
        );
    }

    #[test]
    fn a_missing_lineage_is_obtained_and_an_orphan_refused() {
        let p = plan(&spec(), &Seen::Missing, &["/var/www/acme"])
            .unwrap()
            .unwrap();
        assert_eq!(p.action, Action::Create);
        assert_eq!(
            p.details,
            vec![
                "obtain example.org, www.example.org from https://acme-v02.api.letsencrypt.org/directory (webroot)",
                "certbot's webroot reads /var/www/acme after the change of /var/www/acme earlier in this run",
            ]
        );
        assert_eq!(
            p.work,
            CertbotOp::Obtain {
                force: false,
                new_key: false
            }
        );
        let e = plan(&spec(), &Seen::Orphan, &[]).unwrap_err();
        assert!(e.0.contains("without renewal/example.org.conf"), "{}", e.0);
    }

    #[test]
    fn absent_deletes_what_is_there() {
        let mut s = spec();
        s.presence = Presence::Absent;
        assert_eq!(plan(&s, &Seen::Missing, &[]).unwrap(), None);
        let p = plan(&s, &cert(TEXT), &[]).unwrap().unwrap();
        assert_eq!(p.work, CertbotOp::Delete);
        assert_eq!(
            args(&s, &p.work),
            vec!["delete", "--non-interactive", "--cert-name", "example.org"]
        );
    }

    #[test]
    fn the_step_passes_every_choice_as_an_argument() {
        let mut s = spec();
        s.email = Some("ops@example.org".into());
        s.environment = vec![("REQUESTS_CA_BUNDLE".into(), "/etc/ca b.pem".into())];
        let obtain = CertbotOp::Obtain {
            force: true,
            new_key: false,
        };
        let f = apply_fragment(3, &s, &obtain).unwrap();
        assert!(
            f.contains("export REQUESTS_CA_BUNDLE='/etc/ca b.pem'\n"),
            "{f}"
        );
        assert!(f.contains("set -- certonly --non-interactive --agree-tos --cert-name example.org -d example.org -d www.example.org --webroot -w /var/www/acme --server https://acme-v02.api.letsencrypt.org/directory --email ops@example.org --force-renewal\nexec certbot \"$@\""), "{f}");
        s.method = Method::Nginx;
        s.certonly = false;
        s.email = None;
        let first = CertbotOp::Obtain {
            force: false,
            new_key: false,
        };
        let a = args(&s, &first).join(" ");
        assert!(a.starts_with("run --non-interactive"), "{a}");
        assert!(a.ends_with("--nginx --server https://acme-v02.api.letsencrypt.org/directory --register-unsafely-without-email"), "{a}");
    }

    fn with_conf(key_type: &str, size: &str, reuse: &str, account: &str) -> Seen {
        parse_seen(&[
            "ok",
            DEFAULT_SERVER,
            key_type,
            size,
            reuse,
            account,
            "",
            "",
            TEXT,
        ])
        .unwrap()
    }

    fn rsa(size: Option<u32>) -> CertbotSpec {
        CertbotSpec {
            key_type: Some("rsa".into()),
            rsa_key_size: size,
            ..spec()
        }
    }

    #[test]
    fn an_rsa_keys_size_is_compared() {
        let p = plan(&rsa(Some(4096)), &with_conf("rsa", "", "", ""), &[])
            .unwrap()
            .unwrap();
        assert_eq!(
            p.details,
            vec!["rsa_key_size 2048 (certbot's default) → 4096"]
        );
        assert_eq!(
            p.work,
            CertbotOp::Obtain {
                force: true,
                new_key: false
            }
        );
        let p = plan(&rsa(Some(4096)), &with_conf("rsa", "3072", "", ""), &[])
            .unwrap()
            .unwrap();
        assert_eq!(p.details, vec!["rsa_key_size 3072 → 4096"]);
        for (conf, size) in [("4096", 4096), ("", 2048)] {
            let same = plan(&rsa(Some(size)), &with_conf("rsa", conf, "", ""), &[]).unwrap();
            assert_eq!(same, None, "{conf}");
        }
        // No size asked: not compared. An older certbot's conf (no key_type) is rsa.
        assert_eq!(
            plan(&rsa(None), &with_conf("rsa", "4096", "", ""), &[]).unwrap(),
            None
        );
        let mut kept = rsa(Some(4096));
        kept.key_type = None;
        let p = plan(&kept, &with_conf("", "2048", "", ""), &[])
            .unwrap()
            .unwrap();
        assert_eq!(p.details, vec!["rsa_key_size 2048 → 4096"]);
        // An ecdsa lineage certbot keeps (no key_type asked) has no size to compare; one
        // turned rsa is obtained for the type, its size not said on top.
        assert_eq!(
            plan(&kept, &with_conf("ecdsa", "", "", ""), &[]).unwrap(),
            None
        );
        let p = plan(&rsa(Some(4096)), &with_conf("ecdsa", "", "", ""), &[])
            .unwrap()
            .unwrap();
        assert_eq!(p.details, vec!["key_type ecdsa → rsa"]);
    }

    #[test]
    fn a_new_key_despite_reuse_key_says_so() {
        let p = plan(&rsa(Some(4096)), &with_conf("rsa", "2048", "True", ""), &[])
            .unwrap()
            .unwrap();
        assert_eq!(
            p.details,
            vec![
                "rsa_key_size 2048 → 4096",
                "reuse_key is set in its renewal conf: --new-key"
            ]
        );
        assert_eq!(
            p.work,
            CertbotOp::Obtain {
                force: true,
                new_key: true
            }
        );
        let a = args(&rsa(Some(4096)), &p.work).join(" ");
        assert!(
            a.ends_with("--key-type rsa --rsa-key-size 4096 --register-unsafely-without-email --force-renewal --new-key"),
            "{a}"
        );
        // Names alone keep the key.
        let t = TEXT.replace("DNS:www.example.org", "DNS:old.example.org");
        let seen =
            parse_seen(&["ok", DEFAULT_SERVER, "rsa", "4096", "True", "", "", "", &t]).unwrap();
        let p = plan(&rsa(Some(4096)), &seen, &[]).unwrap().unwrap();
        assert_eq!(
            p.work,
            CertbotOp::Obtain {
                force: true,
                new_key: false
            }
        );
    }

    fn mailed(email: &str) -> CertbotSpec {
        CertbotSpec {
            email: Some(email.into()),
            ..spec()
        }
    }

    #[test]
    fn another_email_updates_the_account_only() {
        let recorded = with_conf("ecdsa", "", "", "=ops@example.org");
        assert_eq!(
            plan(&mailed("ops@example.org"), &recorded, &[]).unwrap(),
            None
        );
        // Without email the account is left as it is.
        assert_eq!(
            plan(&spec(), &with_conf("ecdsa", "", "", "?"), &[]).unwrap(),
            None
        );
        let p = plan(&mailed("new@example.org"), &recorded, &[])
            .unwrap()
            .unwrap();
        assert_eq!(p.action, Action::Update);
        assert_eq!(
            p.details,
            vec!["account email ops@example.org → new@example.org"]
        );
        assert_eq!(p.work, CertbotOp::Contact);
        for (account, said) in [
            (
                "?",
                "account email (not recorded by play) → new@example.org",
            ),
            (
                "",
                "account email (the account its renewal conf names is not found) → new@example.org",
            ),
        ] {
            let p = plan(
                &mailed("new@example.org"),
                &with_conf("ecdsa", "", "", account),
                &[],
            )
            .unwrap()
            .unwrap();
            assert_eq!(p.details, vec![said]);
            assert_eq!(p.work, CertbotOp::Contact);
        }
    }

    #[test]
    fn an_email_with_an_obtain_is_said_with_it() {
        let t = TEXT.replace("DNS:www.example.org", "DNS:old.example.org");
        let seen = parse_seen(&[
            "ok",
            DEFAULT_SERVER,
            "ecdsa",
            "",
            "",
            "=a@example.org",
            "",
            "",
            &t,
        ]);
        let p = plan(&mailed("b@example.org"), &seen.unwrap(), &[])
            .unwrap()
            .unwrap();
        assert_eq!(
            p.details,
            vec![
                "+ domain www.example.org",
                "- domain old.example.org",
                "account email a@example.org → b@example.org",
            ]
        );
        assert!(matches!(p.work, CertbotOp::Obtain { force: true, .. }));
        // Another server: another account, known after the obtain.
        let mut s = mailed("b@example.org");
        s.server = "https://127.0.0.1:14000/dir".into();
        let p = plan(&s, &with_conf("ecdsa", "", "", "=a@example.org"), &[])
            .unwrap()
            .unwrap();
        assert_eq!(p.details.len(), 2, "{:?}", p.details);
        assert!(p.details[1].starts_with("account email b@example.org: set after certbot obtains"));
        let p = plan(&s, &Seen::Missing, &[]).unwrap().unwrap();
        assert!(
            p.details[1].contains("known after this step"),
            "{:?}",
            p.details
        );
    }

    #[test]
    fn the_contact_step_updates_the_conf_account_and_records_it() {
        let mut s = mailed("new@example.org");
        s.server = "https://127.0.0.1:14000/dir".into();
        let f = apply_fragment(2, &s, &CertbotOp::Contact).unwrap();
        assert!(!f.contains("certonly"), "{f}");
        assert!(f.contains("set -- update_account --non-interactive --no-eff-email --server https://127.0.0.1:14000/dir --email new@example.org\nset -- \"$@\" --account \"$cb_a\"\nexec certbot"), "{f}");
        assert!(
            f.contains("cb_d=/etc/letsencrypt/accounts/127.0.0.1:14000/dir/$cb_a"),
            "{f}"
        );
        assert!(
            f.contains("if [ \"$cb_e\" != new@example.org ]; then"),
            "{f}"
        );
        let update = f.find("update_account").unwrap();
        let enter = f.find("play_enter \"$cb_d\" || play_fail 2").unwrap();
        let mv = f
            .find("mv -f -T -- \"$t\" play-email || play_fail 2")
            .unwrap();
        assert!(update < enter && enter < mv, "{f}");
        // An obtain ensures it after certbot ran; without email, no account step.
        let obtain = CertbotOp::Obtain {
            force: false,
            new_key: false,
        };
        let f = apply_fragment(2, &s, &obtain).unwrap();
        assert!(
            f.find("certonly").unwrap() < f.find("update_account").unwrap(),
            "{f}"
        );
        let f = apply_fragment(2, &spec(), &obtain).unwrap();
        assert!(
            !f.contains("update_account") && !f.contains("play-email"),
            "{f}"
        );
    }

    #[test]
    fn accounts_folders_are_certbots() {
        assert_eq!(
            accounts_dir(DEFAULT_SERVER),
            "/etc/letsencrypt/accounts/acme-v02.api.letsencrypt.org/directory"
        );
        assert_eq!(
            accounts_dir("https://127.0.0.1:14000/dir/?x=1"),
            "/etc/letsencrypt/accounts/127.0.0.1:14000/dir"
        );
    }

    /// Runs `read_params` on `conf` (a file's text) and prints the variables.
    fn read_with_sh(conf: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site.conf");
        std::fs::write(&path, conf).unwrap();
        let keys = [
            ("server", "cb_s"),
            ("account", "cb_a"),
            ("rsa_key_size", "cb_z"),
        ];
        let script = format!(
            "cb_s= cb_a= cb_z=\n{}printf '%s|%s|%s' \"$cb_s\" \"$cb_a\" \"$cb_z\"",
            read_params(&shell_quote(&path.display().to_string()), &keys)
        );
        run_sh(&script)
    }

    /// Runs `script` with `sh -c`, which must succeed; its output.
    fn run_sh(script: &str) -> String {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn the_renewal_params_are_read_in_their_section_only() {
        let conf = "# renew_before_expiry = 30 days\nversion = 2.1.0\naccount = top\n\n[renewalparams]\naccount = 8021ba10\nrsa_key_size = 3072\nserver = https://127.0.0.1:14000/dir\nwebroot_path = /var/www/acme,\n[[webroot_map]]\nserver = /srv/x\naccount = /srv/y";
        assert_eq!(
            read_with_sh(conf),
            "https://127.0.0.1:14000/dir|8021ba10|3072"
        );
        assert_eq!(read_with_sh("[renewalparams]\naccount=abc"), "|abc|");
    }

    #[test]
    fn names_and_domains_are_checked() {
        for ok in ["example.org", "www.example.org-0001", "a_b"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "..", "a/b", "-x", "a b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert_eq!(check_domain("WWW.Example.org").unwrap(), "www.example.org");
        assert!(check_domain("*.example.org").is_ok());
        for bad in ["a,b", "-d", "a b", ""] {
            assert!(check_domain(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_fragment_reads_only_declared_lineages_and_no_key() {
        let f = probe_fragment("example.org");
        assert!(
            f.starts_with("printf 'certbot\\0%s\\0' example.org\n"),
            "{f}"
        );
        assert!(
            f.contains("/etc/letsencrypt/renewal/example.org.conf"),
            "{f}"
        );
        assert!(!f.contains("privkey"), "{f}");
        assert!(!f.contains("private_key.json"), "{f}");
        assert!(f.contains("/play-email\" ]; then IFS= read -r cb_c"), "{f}");
        assert_eq!(f.matches("openssl x509").count(), 1, "{f}");
    }

    #[test]
    fn conf_values_are_read_and_written_as_configobj_does() {
        for (raw, want) in [
            ("systemctl stop nginx", Some("systemctl stop nginx")),
            (
                "  systemctl stop nginx  # a comment",
                Some("systemctl stop nginx"),
            ),
            ("\"a, b\"", Some("a, b")),
            ("\"echo a#b\" # c", Some("echo a#b")),
            ("'echo \"x\"'", Some("echo \"x\"")),
            ("\"\"\"echo 'a' \"b\"\"\"\"", Some("echo 'a' \"b\"")),
            ("None", None),
            ("\"None\"", None),
            ("\"\"", None),
            ("", None),
        ] {
            assert_eq!(read_conf_value(raw).as_deref(), want, "{raw}");
        }
        for (v, written) in [
            ("systemctl stop nginx", "systemctl stop nginx"),
            ("echo a, b", "\"echo a, b\""),
            ("echo a#b", "\"echo a#b\""),
            ("echo \"x\", y", "'echo \"x\", y'"),
            (" lead", "\" lead\""),
            ("echo 'a' \"b\"", "\"\"\"echo 'a' \"b\"\"\"\""),
            ("x = y", "x = y"),
        ] {
            assert_eq!(conf_value(v).unwrap(), written, "{v}");
            assert_eq!(read_conf_value(written).as_deref(), Some(v), "{written}");
        }
        assert!(conf_value("a\nb").unwrap_err().contains("line break"));
        assert!(conf_value("a'''b").is_err());
        assert!(check_hook("pre_hook", "None").is_err());
    }

    fn hooked(pre: Option<&str>, post: Option<&str>) -> CertbotSpec {
        CertbotSpec {
            pre_hook: pre.map(str::to_string),
            post_hook: post.map(str::to_string),
            ..spec()
        }
    }

    fn with_hooks(pre: &str, post: &str, account: &str) -> Seen {
        record(account, pre, post, TEXT)
    }

    #[test]
    fn other_hooks_are_written_into_the_conf_without_an_obtain() {
        let s = hooked(Some("systemctl stop nginx"), Some("systemctl start nginx"));
        let same = with_hooks("systemctl stop nginx", "\"systemctl start nginx\"", "");
        assert_eq!(plan(&s, &same, &[]).unwrap(), None);
        let p = plan(&s, &with_hooks("", "None", ""), &[]).unwrap().unwrap();
        assert_eq!(p.action, Action::Update);
        assert_eq!(p.work, CertbotOp::Hooks { contact: false });
        assert_eq!(
            p.details[..2],
            [
                "pre_hook (none) → `systemctl stop nginx`",
                "post_hook (none) → `systemctl start nginx`"
            ]
        );
        assert!(p.details[2].contains("no certificate obtained, no hook run now"));
        // With the account's contact too: both in one step.
        let mut s = hooked(None, None);
        s.email = Some("b@example.org".into());
        let p = plan(
            &s,
            &with_hooks("systemctl stop nginx", "", "=a@example.org"),
            &[],
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.work, CertbotOp::Hooks { contact: true });
        assert_eq!(p.details[0], "pre_hook `systemctl stop nginx` → (none)");
        assert_eq!(p.details[2], "account email a@example.org → b@example.org");
        let f = apply_fragment(1, &s, &p.work).unwrap();
        assert!(!f.contains("certonly"), "{f}");
        assert!(
            f.find("renewalparams").unwrap() < f.find("update_account").unwrap(),
            "{f}"
        );
    }

    #[test]
    fn an_obtain_passes_the_hooks_in_one_word_each() {
        let s = hooked(Some("-x stop"), Some("systemctl start nginx"));
        let obtain = CertbotOp::Obtain {
            force: false,
            new_key: false,
        };
        let a = args(&s, &obtain);
        assert!(a.contains(&"--pre-hook=-x stop".to_string()), "{a:?}");
        assert!(
            a.contains(&"--post-hook=systemctl start nginx".to_string()),
            "{a:?}"
        );
        assert!(!args(&spec(), &obtain).iter().any(|a| a.contains("hook")));
    }

    /// Runs the hook step on `conf` (a file's text) in a temp folder with stand-ins for the
    /// apply script's helpers; returns the file's text after it and its mode.
    fn rewrite_with_sh(s: &CertbotSpec, conf: &str) -> (String, u32) {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site.conf");
        std::fs::write(&path, conf).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let body = hook_lines(4, s, &path.display().to_string()).unwrap();
        let script = format!(
            "play_enter() {{ cd \"$1\"; }}\nplay_tmp() {{ t=$(mktemp \"$1\"); }}\nplay_fail() {{ exit 9; }}\n{body}"
        );
        run_sh(&script);
        let left = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(left, 1, "a temp file was left");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        (std::fs::read_to_string(&path).unwrap(), mode)
    }

    #[test]
    fn the_hook_step_rewrites_only_the_hooks_of_the_renewal_params() {
        let conf = "# renew_before_expiry = 30 days\nversion = 2.1.0\npre_hook = top\n\n[renewalparams]\naccount = 8021ba10\npre_hook = service nginx stop\nserver = https://127.0.0.1:14000/dir\npost_hook=old\n[[webroot_map]]\npre_hook = /srv/x";
        let s = hooked(Some("systemctl stop nginx"), Some("echo 'up, again'"));
        let (text, mode) = rewrite_with_sh(&s, conf);
        assert_eq!(
            text,
            "# renew_before_expiry = 30 days\nversion = 2.1.0\npre_hook = top\n\n[renewalparams]\npre_hook = systemctl stop nginx\npost_hook = \"echo 'up, again'\"\naccount = 8021ba10\nserver = https://127.0.0.1:14000/dir\n[[webroot_map]]\npre_hook = /srv/x\n"
        );
        assert_eq!(mode, 0o640);
        // None declared: both go. A conf without the section gets one.
        let (text, _) = rewrite_with_sh(&hooked(None, None), conf);
        assert!(
            !text.contains("service nginx stop") && !text.contains("post_hook"),
            "{text}"
        );
        assert!(
            text.contains("pre_hook = top\n") && text.contains("pre_hook = /srv/x"),
            "{text}"
        );
        let (text, _) = rewrite_with_sh(&s, "version = 2.1.0\n");
        assert_eq!(
            text,
            "version = 2.1.0\n\n[renewalparams]\npre_hook = systemctl stop nginx\npost_hook = \"echo 'up, again'\"\n"
        );
    }
}
