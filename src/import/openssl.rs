//! TLS material in Ansible projects: the `openssl genrsa|genpkey|dhparam|req -x509|req -new`
//! shell idioms and community.crypto's `openssl_privatekey`, `openssl_dhparam`, `openssl_csr`
//! and `x509_certificate`/`openssl_certificate` (provider `selfsigned`), as play's
//! `private_key:`, `dhparam:`, `certificate:` and `csr:` (what they cannot say stays a command
//! or is left out).

use crate::yaml::Value;

use super::{Ctx, Mapped, Res};
use crate::import::task::Task;

/// What an `openssl_csr` task of the project says, by its `path` (a self-signed
/// `x509_certificate` made from it takes its subject).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Csr {
    /// `/CN=…/O=…`.
    pub subject: String,
    pub subject_alt_name: Vec<String>,
}

impl Csr {
    /// A `kind: path` made from `key` with these names (`certificate:`, `csr:`).
    fn resource(&self, kind: &str, path: &str, key: &str) -> Res {
        let mut r = Res::new(kind, path);
        r.set("private_key", key);
        r.set("subject", self.subject.clone());
        if !self.subject_alt_name.is_empty() {
            let names = self.subject_alt_name.iter().cloned().map(Value::String);
            r.set("subject_alt_name", Value::Sequence(names.collect()));
        }
        r
    }
}

/// openssl_csr's subject keys, with the short name `-subj` gives them, in `-subj` order.
const SUBJECT_KEYS: &[(&str, &str)] = &[
    ("country_name", "C"),
    ("state_or_province_name", "ST"),
    ("locality_name", "L"),
    ("organization_name", "O"),
    ("organizational_unit_name", "OU"),
    ("common_name", "CN"),
    ("email_address", "emailAddress"),
];

/// The subject and subjectAltName an `openssl_csr` task's args give (`None`: none); without a
/// `subject_alt_name`, its common name as `DNS:NAME` (openssl_csr's `use_common_name_for_san`,
/// true by default).
pub fn csr_of(arg: impl Fn(&str) -> Option<Value>) -> Option<Csr> {
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let mut subject = String::new();
    let mut common_name = None;
    for (k, short) in SUBJECT_KEYS {
        let alias = match *k {
            "common_name" => "CN",
            "country_name" => "C",
            "organization_name" => "O",
            _ => "",
        };
        if let Some(v) = arg(k).or_else(|| arg(alias)).as_ref().and_then(text) {
            subject.push_str(&format!("/{short}={}", v.replace('/', "\\/")));
            if *short == "CN" {
                common_name = Some(v);
            }
        }
    }
    if let Some(Value::Mapping(m)) = arg("subject") {
        for (k, v) in m {
            if let (Some(k), Some(v)) = (k.as_str(), text(&v)) {
                subject.push_str(&format!("/{k}={}", v.replace('/', "\\/")));
                if ["CN", "commonName", "common_name"].contains(&k) {
                    common_name = Some(v);
                }
            }
        }
    }
    let mut subject_alt_name: Vec<String> = match arg("subject_alt_name") {
        Some(Value::Sequence(items)) => items.iter().filter_map(text).collect(),
        Some(Value::String(s)) => s.split(',').map(|s| s.trim().to_string()).collect(),
        _ => Vec::new(),
    };
    // use_common_name_for_san (default true): no subject_alt_name given, the common name is
    // requested as `DNS:CN`
    let cn_for_san = match arg("use_common_name_for_san") {
        Some(Value::Bool(b)) => b,
        Some(Value::String(v)) => !["no", "false", "False", "off"].contains(&v.as_str()),
        _ => true,
    };
    if subject_alt_name.is_empty() && cn_for_san {
        subject_alt_name.extend(common_name.map(|cn| format!("DNS:{cn}")));
    }
    (!subject.is_empty()).then_some(Csr {
        subject,
        subject_alt_name,
    })
}

/// `{{ x | quote }}` → `{{ x }}`: a shell quoting that a play key does not want.
fn unquoted(w: &str) -> String {
    let mut s = w.to_string();
    for f in ["| quote", "|quote"] {
        s = s.replace(f, "");
    }
    s
}

fn abs(p: &str) -> bool {
    (p.starts_with('/') || p.starts_with("{{")) && !p.ends_with('/')
}

/// A number of bits or days as written: a number, or a template.
fn number(w: &str) -> Option<Value> {
    if let Ok(n) = w.parse::<u64>() {
        return Some(Value::Number(n.into()));
    }
    (w.starts_with("{{") && w.ends_with("}}")).then(|| Value::String(w.to_string()))
}

/// `openssl genrsa|genpkey|dhparam|req -x509 …` (one command, its output an absolute path, a
/// `> PATH` redirect too): the `private_key:`, `dhparam:` or `private_key:` + `certificate:`
/// it makes. `None`: another command, or an option play does not carry (a passphrase, a
/// `-config`, a CSR alone).
pub fn idiom(cmd: &str, t: &Task) -> Option<Vec<Res>> {
    if cmd.contains("{%") || t.arg(&["chdir"]).is_some() || t.arg(&["removes"]).is_some() {
        return None;
    }
    let words: Vec<String> = super::super::task::words(cmd)
        .into_iter()
        .map(|(w, _)| unquoted(&w))
        .collect();
    let mut w: Vec<&str> = words.iter().map(String::as_str).collect();
    if w.first() != Some(&"openssl") {
        return None;
    }
    let mut redirect = None;
    if let Some(i) = w.iter().position(|x| *x == ">") {
        if i + 2 != w.len() {
            return None;
        }
        redirect = Some(w[i + 1]);
        w.truncate(i);
    }
    if (w.iter().chain(&redirect))
        .any(|x| super::outside_templates(x).contains(['|', ';', '&', '<', '>', '`', '$']))
    {
        return None;
    }
    let rs = match w.get(1..)? {
        ["genrsa", rest @ ..] => vec![genrsa(rest, redirect)?],
        ["genpkey", rest @ ..] => vec![genpkey(rest, redirect)?],
        ["dhparam", rest @ ..] => vec![dhparam(rest, redirect)?],
        ["req", rest @ ..] => req(rest, redirect)?,
        _ => return None,
    };
    Some(rs)
}

/// Options as given (`(name, value)`, a flag's value empty) and the other words.
type Parsed<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a str>);

/// Reads `args`: `flags` take no value, `valued` one; `None`: another option.
fn options<'a>(args: &[&'a str], flags: &[&str], valued: &[&str]) -> Option<Parsed<'a>> {
    let mut opts = Vec::new();
    let mut free = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if flags.contains(a) {
            opts.push((*a, ""));
        } else if valued.contains(a) {
            opts.push((*a, *it.next()?));
        } else if a.starts_with('-') {
            return None;
        } else {
            free.push(*a);
        }
    }
    Some((opts, free))
}

fn get<'a>(opts: &[(&str, &'a str)], name: &str) -> Option<&'a str> {
    opts.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
}

fn key_res(path: &str, cmd: &str) -> Option<Res> {
    if !abs(path) {
        return None;
    }
    let mut r = Res::new("private_key", path);
    r.comments.push(format!(
        "play import: `openssl {cmd}` → private_key (made while missing, as `creates:` did; made again when it is a key of another type or size)"
    ));
    Some(r)
}

/// `genrsa [-out K] [BITS]` (default 2048, openssl's).
fn genrsa(args: &[&str], redirect: Option<&str>) -> Option<Res> {
    let (opts, free) = options(args, &["-f4", "-quiet"], &["-out"])?;
    let path = get(&opts, "-out").or(redirect)?;
    let mut r = key_res(path, "genrsa")?;
    let bits = match free.as_slice() {
        [] => Value::Number(2048.into()),
        [n] => number(n)?,
        _ => return None,
    };
    r.set("size", bits);
    Some(r)
}

/// `genpkey -algorithm RSA|EC|ED25519 [-pkeyopt rsa_keygen_bits:N|ec_paramgen_curve:C] -out K`.
fn genpkey(args: &[&str], redirect: Option<&str>) -> Option<Res> {
    let (opts, free) = options(args, &["-quiet"], &["-out", "-algorithm", "-pkeyopt"])?;
    if !free.is_empty() {
        return None;
    }
    let path = get(&opts, "-out").or(redirect)?;
    let mut r = key_res(path, "genpkey")?;
    match get(&opts, "-algorithm")?.to_ascii_uppercase().as_str() {
        "RSA" => {
            let bits = (opts.iter())
                .filter(|(k, _)| *k == "-pkeyopt")
                .find_map(|(_, v)| v.strip_prefix("rsa_keygen_bits:"));
            r.set(
                "size",
                bits.map_or(Some(Value::Number(2048.into())), number)?,
            );
        }
        "EC" => {
            r.set("type", "ecdsa");
            let curve = (opts.iter())
                .filter(|(k, _)| *k == "-pkeyopt")
                .find_map(|(_, v)| v.strip_prefix("ec_paramgen_curve:"))?;
            let curve = crate::resources::tls::curve_name(curve).to_string();
            crate::resources::registry::check_value("private_key", "curve", &curve).ok()?;
            r.set("curve", curve);
        }
        "ED25519" => r.set("type", "ed25519"),
        _ => return None,
    }
    Some(r)
}

/// `dhparam [-out P] BITS` (`-dsaparam` and generators are not carried).
fn dhparam(args: &[&str], redirect: Option<&str>) -> Option<Res> {
    let (opts, free) = options(args, &["-quiet", "-2"], &["-out"])?;
    let path = get(&opts, "-out").or(redirect)?;
    if !abs(path) {
        return None;
    }
    let [n] = free.as_slice() else { return None };
    let mut r = Res::new("dhparam", path);
    r.set("size", number(n)?);
    r.comments.push(
        "play import: `openssl dhparam` → dhparam (made while missing, as `creates:` did; made again when its size differs)".into(),
    );
    Some(r)
}

/// `req -x509 [-new] [-newkey rsa:N|ed25519] -nodes -subj S [-days D] -keyout K -out C`, or
/// with `-key K` (an existing key): the key (with `-keyout`) and the certificate; without
/// `-x509`, `req -new [-sha256] -key K -subj S -out X.csr`: a request (`csr:`) from the key.
fn req(args: &[&str], redirect: Option<&str>) -> Option<Vec<Res>> {
    let (opts, free) = options(
        args,
        &[
            "-new", "-x509", "-nodes", "-noenc", "-batch", "-utf8", "-sha256", "-sha384", "-sha512",
        ],
        &[
            "-newkey",
            "-days",
            "-subj",
            "-keyout",
            "-key",
            "-out",
            "-extensions",
        ],
    )?;
    if !free.is_empty() {
        return None;
    }
    if get(&opts, "-x509").is_none() {
        return request(&opts, redirect);
    }
    // v3_ca is what `req -x509` takes from Debian's openssl.cnf anyway
    if get(&opts, "-extensions").is_some_and(|e| e != "v3_ca") {
        return None;
    }
    let cert = get(&opts, "-out").or(redirect)?;
    let subject = get(&opts, "-subj")?;
    if !abs(cert) || subject.trim().is_empty() {
        return None;
    }
    crate::resources::registry::check_value("certificate", "subject", subject).ok()?;
    let mut out = Vec::new();
    let key = match (get(&opts, "-keyout"), get(&opts, "-key")) {
        (Some(k), None) => {
            // without -nodes openssl asks for a passphrase
            get(&opts, "-nodes").or(get(&opts, "-noenc"))?;
            let mut r = key_res(k, "req -x509 -keyout")?;
            match get(&opts, "-newkey") {
                None => {
                    r.set("size", 2048);
                    r.notes.push(
                        "no `-newkey`: the key's size is openssl.cnf's default_bits, 2048 on Debian"
                            .into(),
                    );
                }
                Some(nk) => match nk.split_once(':') {
                    Some(("rsa", bits)) => r.set("size", number(bits)?),
                    None if nk == "rsa" => r.set("size", 2048),
                    None if nk.eq_ignore_ascii_case("ed25519") => r.set("type", "ed25519"),
                    _ => return None,
                },
            }
            out.push(r);
            k
        }
        (None, Some(k)) if get(&opts, "-newkey").is_none() && abs(k) => k,
        _ => return None,
    };
    let mut c = Res::new("certificate", cert);
    c.set("private_key", key);
    c.set("subject", subject);
    let days = match get(&opts, "-days") {
        Some(d) => number(d)?,
        None => Value::Number(30.into()), // openssl req's default
    };
    c.set("days", days);
    c.comments.push(
        "play import: `openssl req -x509` → certificate signed by its private_key (made while missing, as `creates:` did; made again when it no longer matches its key or subject, or has expired)".into(),
    );
    out.push(c);
    Some(out)
}

/// `req -new [-sha256|-sha384|-sha512] -key K -subj S -out X.csr` (no `-x509`): the `csr:`
/// made from the existing key K. `None` with a new key (`-newkey`, `-keyout`), extensions or
/// without a subject.
fn request(opts: &[(&str, &str)], redirect: Option<&str>) -> Option<Vec<Res>> {
    get(opts, "-new")?;
    if ["-newkey", "-keyout", "-extensions"]
        .iter()
        .any(|o| get(opts, o).is_some())
    {
        return None;
    }
    let out = get(opts, "-out").or(redirect)?;
    let key = get(opts, "-key")?;
    let subject = get(opts, "-subj")?;
    if !abs(out) || !abs(key) || subject.trim().trim_matches('/').is_empty() {
        return None;
    }
    crate::resources::registry::check_value("csr", "subject", subject).ok()?;
    let mut r = Res::new("csr", out);
    r.set("private_key", key);
    r.set("subject", subject);
    if let Some(d) = ["-sha384", "-sha512"]
        .iter()
        .find(|d| get(opts, d).is_some())
    {
        r.set("digest", d.trim_start_matches('-'));
    }
    r.comments.push(
        "play import: `openssl req -new` → csr made from its private_key (made while missing, as `creates:` did; made again when it no longer matches its key, subject or digest)".into(),
    );
    Some(vec![r])
}

fn attrs(t: &Task, r: &mut Res) {
    super::owner_group_mode(t, r);
}

/// community.crypto's modules (`None`: not one of them).
pub fn module(t: &Task, ctx: &Ctx) -> Option<Mapped> {
    use Mapped::*;
    let m = t.module.as_str();
    let state_absent = t.arg_str(&["state"]).as_deref() == Some("absent");
    let path = t.arg_str(&["path"]);
    Some(match m {
        "openssl_privatekey" => {
            let Some(path) = path else {
                return Some(LeftOut("openssl_privatekey without `path`".into()));
            };
            if t.arg(&["passphrase"]).is_some() {
                return Some(LeftOut(
                    "openssl_privatekey with a `passphrase`: play makes unencrypted keys".into(),
                ));
            }
            let mut r = Res::new("private_key", path);
            if let Some(ty) = t.arg_str(&["type"]) {
                if crate::resources::registry::check_value("private_key", "type", &ty).is_err() {
                    return Some(LeftOut(format!(
                        "openssl_privatekey of type {ty}: play makes rsa, ecdsa and ed25519 keys"
                    )));
                }
                if !ty.eq_ignore_ascii_case("rsa") {
                    r.set("type", ty.to_ascii_lowercase().replace("ecc", "ecdsa"));
                }
            }
            if let Some(s) = t.arg(&["size"]) {
                r.set("size", s.clone());
            }
            if let Some(c) = t.arg_str(&["curve"]) {
                if crate::resources::registry::check_value("private_key", "curve", &c).is_err() {
                    return Some(LeftOut(format!(
                        "openssl_privatekey on curve {c}: play makes keys on secp256r1, secp384r1 and secp521r1"
                    )));
                }
                r.set("curve", c);
            }
            attrs(t, &mut r);
            if state_absent {
                r.set("state", "absent");
            }
            super::ignored(t, &mut r, &["force", "backup", "format", "regenerate"]);
            Resources(vec![r])
        }
        "openssl_dhparam" => {
            let Some(path) = path else {
                return Some(LeftOut("openssl_dhparam without `path`".into()));
            };
            let mut r = Res::new("dhparam", path);
            if let Some(s) = t.arg(&["size"]) {
                r.set("size", s.clone());
            }
            attrs(t, &mut r);
            if state_absent {
                r.set("state", "absent");
            }
            super::ignored(t, &mut r, &["force", "backup"]);
            Resources(vec![r])
        }
        "openssl_certificate" | "x509_certificate" => {
            let provider = t.arg_str(&["provider"]).unwrap_or_default();
            let (Some(path), Some(key)) = (path, t.arg_str(&["privatekey_path"])) else {
                return Some(LeftOut(format!("{m} without `path` and `privatekey_path`")));
            };
            if provider != "selfsigned" {
                return Some(LeftOut(format!(
                    "{m} with provider `{provider}`: play makes self-signed certificates only"
                )));
            }
            let csr = (t.arg_str(&["csr_path"]).as_ref()).and_then(|p| ctx.csrs.get(p));
            let Some(csr) = csr else {
                return Some(LeftOut(format!(
                    "{m}: no `openssl_csr` of the project gives its `csr_path`'s subject"
                )));
            };
            let mut r = csr.resource("certificate", &path, &key);
            if let Some(days) = (t.arg_str(&["selfsigned_not_after"]))
                .and_then(|a| a.strip_prefix('+')?.strip_suffix('d')?.parse::<u64>().ok())
            {
                r.set("days", days);
            }
            attrs(t, &mut r);
            if state_absent {
                r.set("state", "absent");
            }
            r.comments.push(format!(
                "play import: {m} (selfsigned) → certificate, its subject from the openssl_csr of its csr_path"
            ));
            super::ignored(t, &mut r, &["force", "backup", "selfsigned_digest"]);
            Resources(vec![r])
        }
        "openssl_csr" => {
            let (Some(path), Some(key)) = (path, t.arg_str(&["privatekey_path"])) else {
                return Some(LeftOut(
                    "openssl_csr without `path` and `privatekey_path`".into(),
                ));
            };
            let Some(csr) = csr_of(|k| t.arg(&[k]).cloned()) else {
                return Some(LeftOut("openssl_csr without a subject".into()));
            };
            if t.arg(&["privatekey_passphrase"]).is_some() {
                return Some(LeftOut(
                    "openssl_csr with a `privatekey_passphrase`: play makes requests from unencrypted keys".into(),
                ));
            }
            let extras = [
                "key_usage",
                "extended_key_usage",
                "basic_constraints",
                "ocsp_must_staple",
                "name_constraints_permitted",
            ];
            if let Some(x) = extras.iter().find(|x| t.arg(&[x]).is_some()) {
                return Some(LeftOut(format!(
                    "openssl_csr with `{x}`: play requests the subjectAltName extension only"
                )));
            }
            let mut r = csr.resource("csr", &path, &key);
            if let Some(d) = t.arg_str(&["digest"]) {
                if crate::resources::registry::check_value("csr", "digest", &d).is_err() {
                    return Some(LeftOut(format!(
                        "openssl_csr with digest {d}: play makes requests with sha224, sha256, sha384 or sha512"
                    )));
                }
                if !d.eq_ignore_ascii_case("sha256") {
                    r.set("digest", d.to_ascii_lowercase());
                }
            }
            attrs(t, &mut r);
            if state_absent {
                r.set("state", "absent");
            }
            r.comments.push(format!(
                "play import: {m} → csr made from its private_key (made again when it no longer matches its key, subject, subjectAltName or digest)"
            ));
            super::ignored(t, &mut r, &["force", "backup", "version"]);
            Resources(vec![r])
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(rs: &[Res]) -> String {
        rs.iter()
            .map(|r| {
                r.fields
                    .iter()
                    .map(|(k, v)| format!("{k}={}", crate::yaml::to_string(v).trim()))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join(" + ")
    }

    fn run(cmd: &str) -> Option<String> {
        idiom(cmd, &Task::default()).map(|rs| shape(&rs))
    }

    #[test]
    fn the_idioms_of_the_corpus() {
        assert_eq!(
            run("openssl genrsa -out {{ key }} 4096").as_deref(),
            Some("private_key='{{ key }}' size=4096")
        );
        assert_eq!(
            run("openssl genrsa 4096 > {{ dir }}/{{ item.key }}.key").as_deref(),
            Some("private_key='{{ dir }}/{{ item.key }}.key' size=4096")
        );
        assert_eq!(
            run("openssl dhparam -out /etc/letsencrypt/ssl-dhparams.pem 2048").as_deref(),
            Some("dhparam=/etc/letsencrypt/ssl-dhparams.pem size=2048")
        );
        assert_eq!(
            run("openssl dhparam -out {{ p }} {{ bits }}").as_deref(),
            Some("dhparam='{{ p }}' size='{{ bits }}'")
        );
        assert_eq!(
            run("openssl req -x509 -newkey rsa:4096 -nodes -subj \"/CN={{ h }}/ /C=NA/O=NA\" -keyout {{ k }} -out {{ c }} -days 3650").as_deref(),
            Some("private_key='{{ k }}' size=4096 + certificate='{{ c }}' private_key='{{ k }}' subject=/CN={{ h }}/ /C=NA/O=NA days=3650")
        );
        assert_eq!(
            run("openssl req -new -days 365 -nodes -x509 -subj /CN={{ d|quote }} -keyout /etc/ssl/private/{{ d|quote }}.key -out /etc/ssl/certs/{{ d|quote }}.pem").as_deref(),
            Some("private_key=/etc/ssl/private/{{ d }}.key size=2048 + certificate=/etc/ssl/certs/{{ d }}.pem private_key=/etc/ssl/private/{{ d }}.key subject=/CN={{ d }} days=365")
        );
        assert_eq!(
            run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out /k")
                .as_deref(),
            Some("private_key=/k type=ecdsa curve=secp384r1")
        );
    }

    #[test]
    fn what_is_not_carried_stays_a_command() {
        // a request with a new key or extensions, a config, a passphrase, a relative path, a
        // pipe
        assert_eq!(
            run("openssl req -new -newkey rsa:2048 -nodes -keyout /k -subj /CN=x -out /x.csr"),
            None
        );
        assert_eq!(
            run("openssl req -new -key /k -subj /CN=x -extensions v3_req -out /x.csr"),
            None
        );
        assert_eq!(run("openssl req -new -key /k -subj / -out /x.csr"), None);
        assert_eq!(run("openssl req -new -key k -subj /CN=x -out /x.csr"), None);
        assert_eq!(
            run("openssl req -x509 -new -key /k -subj /CN=x -config /c.cnf -out /c"),
            None
        );
        assert_eq!(
            run("openssl req -x509 -newkey rsa:2048 -subj /CN=x -keyout /k -out /c"),
            None
        );
        assert_eq!(run("openssl genrsa -aes256 -out /k 2048"), None);
        assert_eq!(run("openssl genrsa -out k 2048"), None);
        assert_eq!(run("openssl genrsa 2048 | tee /k"), None);
        assert_eq!(run("openssl dhparam -dsaparam -out /d 2048"), None);
        assert_eq!(run("openssl req -x509 -key /k -subj /CN -out /c"), None);
    }

    #[test]
    fn a_request_from_an_existing_key_is_a_csr() {
        assert_eq!(
            run("openssl req -new -sha256 -key {{ key }} -subj \"/CN={{ d | default(h) }}\" -out {{ csr }}").as_deref(),
            Some("csr='{{ csr }}' private_key='{{ key }}' subject=/CN={{ d | default(h) }}")
        );
        assert_eq!(
            run("openssl req -new -key /k -sha512 -subj /CN=x/O=y > /x.csr").as_deref(),
            Some("csr=/x.csr private_key=/k subject=/CN=x/O=y digest=sha512")
        );
    }

    #[test]
    fn a_csr_without_names_requests_its_common_name() {
        let args = [("common_name", Value::String("{{ h }}".into()))];
        let csr = csr_of(|k| args.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()));
        assert_eq!(csr.unwrap().subject_alt_name, vec!["DNS:{{ h }}"]);
        let off = [
            ("common_name", Value::String("a".into())),
            ("use_common_name_for_san", Value::Bool(false)),
        ];
        let csr = csr_of(|k| off.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()));
        assert!(csr.unwrap().subject_alt_name.is_empty());
    }

    #[test]
    fn a_csr_gives_its_subject() {
        let args = [
            ("common_name", Value::String("{{ h }}".into())),
            ("organization_name", Value::String("Acme".into())),
            (
                "subject_alt_name",
                Value::Sequence(vec![Value::String("DNS:{{ h }}".into())]),
            ),
        ];
        let csr = csr_of(|k| args.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()));
        assert_eq!(
            csr,
            Some(Csr {
                subject: "/O=Acme/CN={{ h }}".into(),
                subject_alt_name: vec!["DNS:{{ h }}".into()]
            })
        );
        assert_eq!(csr_of(|_| None), None);
    }
}
