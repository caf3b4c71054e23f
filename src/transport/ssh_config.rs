//! OpenSSH client configuration (`~/.ssh/config`, `-F FILE`), the part play uses.
//!
//! Parsed as OpenSSH does (ssh_config(5)): `Keyword value` or `Keyword=value`, keywords in any
//! case, double-quoted arguments, `#` comments; `Host` patterns (`*`, `?`, `!negation`);
//! `Match host`, `Match user`, `Match all` (criteria negated with `!`; any other criterion is an
//! error naming the file and line); `Include` (globs, relative to `~/.ssh`, nested up to 16
//! deep, evaluated in place like OpenSSH: an Include inside a non-matching block contributes
//! nothing). For each host the **first** value obtained for a keyword wins; `IdentityFile`
//! accumulates. `Match host` sees the `HostName` set so far, `Match user` the `User` set so
//! far (or the local user), as OpenSSH 9 does.
//!
//! Keywords read: `HostName`, `User`, `Port`, `IdentityFile`, `IdentitiesOnly`, `ProxyJump`,
//! `UserKnownHostsFile`, `StrictHostKeyChecking`, `ConnectTimeout`, `ServerAliveInterval`. The
//! others are ignored. `tests/ssh_config.rs` compares the result with `ssh -G`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::HostKeyPolicy;

/// Why a config file could not be used. Every message names the file (and line).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SshConfigError {
    #[error("{}: cannot read: {reason}", path.display())]
    Read { path: PathBuf, reason: String },
    #[error("{}:{line}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Where `~` and relative `Include`s point, and who runs play (`%u`, `Match user` default).
#[derive(Debug, Clone)]
pub struct Context {
    pub home: PathBuf,
    pub local_user: String,
}

impl Context {
    /// `$HOME` and `$USER` (root when unset).
    pub fn from_env() -> Context {
        Context {
            home: std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/")),
            local_user: std::env::var("USER").unwrap_or_else(|_| "root".into()),
        }
    }
}

#[derive(Debug, Clone)]
enum Line {
    Host { patterns: Vec<String> },
    Match { criteria: Vec<Criterion> },
    Include { files: Vec<Parsed> },
    Option { key: String, args: Vec<String> },
}

#[derive(Debug, Clone)]
enum Criterion {
    All,
    Host { negate: bool, list: String },
    User { negate: bool, list: String },
}

#[derive(Debug, Clone)]
struct Parsed {
    lines: Vec<Line>,
}

/// A parsed config file (its Includes read too).
#[derive(Debug, Clone)]
pub struct SshConfig {
    root: Parsed,
}

/// What the config says for one host (`None`: not set). Paths are expanded (`~`, `%h`, `%r`,
/// `%u`, `%p`, `%n`, `%d`, `%%`) by [`HostConfig::expand`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostConfig {
    pub hostname: Option<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
    /// Raw, in order (tokens not yet expanded).
    pub identity_files: Vec<String>,
    pub identities_only: Option<bool>,
    /// Raw `ProxyJump` value; `none` kept as written.
    pub proxy_jump: Option<String>,
    /// First `UserKnownHostsFile` (raw).
    pub user_known_hosts: Option<String>,
    pub strict_host_key_checking: Option<HostKeyPolicy>,
    pub connect_timeout: Option<Duration>,
    pub server_alive_interval: Option<Duration>,
}

/// One hop of a `ProxyJump` chain: `[user@]host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JumpSpec {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

/// Most nested Includes, as OpenSSH.
const MAX_DEPTH: usize = 16;

impl SshConfig {
    /// Reads `path` (and what it includes).
    pub fn load(path: &Path, ctx: &Context) -> Result<SshConfig, SshConfigError> {
        Ok(SshConfig {
            root: parse_file(path, ctx, 0)?,
        })
    }

    /// Parses `text` as if read from `path`.
    pub fn parse(text: &str, path: &Path, ctx: &Context) -> Result<SshConfig, SshConfigError> {
        Ok(SshConfig {
            root: parse_text(text, path, ctx, 0)?,
        })
    }

    /// The settings for `host` (the name given to ssh), first value winning.
    pub fn resolve(&self, host: &str, ctx: &Context) -> HostConfig {
        let mut out = HostConfig::default();
        let mut active = true;
        walk(&self.root, host, ctx, &mut out, &mut active, false);
        out
    }
}

fn walk(
    file: &Parsed,
    host: &str,
    ctx: &Context,
    out: &mut HostConfig,
    active: &mut bool,
    never: bool,
) {
    for line in &file.lines {
        match line {
            Line::Host { patterns } => *active = !never && host_matches(host, patterns),
            Line::Match { criteria } => {
                *active = !never
                    && criteria
                        .iter()
                        .all(|c| criterion_matches(c, host, ctx, out))
            }
            Line::Include { files } => {
                let was = *active;
                for f in files {
                    walk(f, host, ctx, out, active, never || !was);
                }
                *active = was;
            }
            Line::Option { key, args, .. } if *active => apply(out, key, args, host),
            Line::Option { .. } => {}
        }
    }
}

/// `Host` line: some positive pattern matches and no negated one does. Case-sensitive, on the
/// name as given (OpenSSH 9: `Host Web1` matches `Web1`, not `web1`).
fn host_matches(host: &str, patterns: &[String]) -> bool {
    let mut hit = false;
    for p in patterns {
        if let Some(neg) = p.strip_prefix('!') {
            if glob(neg, host) {
                return false;
            }
        } else if glob(p, host) {
            hit = true;
        }
    }
    hit
}

/// A comma-separated pattern list (`a*,!b`), as OpenSSH's match_pattern_list.
fn list_matches(value: &str, list: &str, lowercase: bool) -> bool {
    let value = if lowercase {
        value.to_ascii_lowercase()
    } else {
        value.to_string()
    };
    let mut hit = false;
    for p in list.split(',').filter(|p| !p.is_empty()) {
        let p = if lowercase {
            p.to_ascii_lowercase()
        } else {
            p.to_string()
        };
        if let Some(neg) = p.strip_prefix('!') {
            if glob(neg, &value) {
                return false;
            }
        } else if glob(&p, &value) {
            hit = true;
        }
    }
    hit
}

fn criterion_matches(c: &Criterion, host: &str, ctx: &Context, so_far: &HostConfig) -> bool {
    match c {
        Criterion::All => true,
        Criterion::Host { negate, list } => {
            let h = so_far.hostname.clone().unwrap_or_else(|| host.to_string());
            list_matches(&h, list, true) != *negate
        }
        Criterion::User { negate, list } => {
            let u = so_far.user.as_deref().unwrap_or(&ctx.local_user);
            list_matches(u, list, false) != *negate
        }
    }
}

/// `*` any run, `?` one character; the whole text.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// `raw` with each `%X` replaced by `token(X)`; `None` from it: an unknown token (error).
fn percent(raw: &str, token: impl Fn(char) -> Option<String>) -> Result<String, String> {
    let mut out = String::new();
    let mut it = raw.chars();
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('%') => out.push('%'),
            Some(t) => match token(t) {
                Some(v) => out.push_str(&v),
                None => return Err(format!("`{raw}`: token %{t} is not supported")),
            },
            None => return Err(format!("`{raw}`: lone % at the end")),
        }
    }
    Ok(out)
}

/// `HostName` with `%h` (the name given) and `%%` (anything else is kept as written).
fn expand_hostname(value: &str, host: &str) -> String {
    percent(value, |t| (t == 'h').then(|| host.to_string())).unwrap_or_else(|_| value.to_string())
}

fn yes_no(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "yes" | "true" => Some(true),
        "no" | "false" => Some(false),
        _ => None,
    }
}

/// Sets `key` from `args` unless already set (values were checked while parsing).
fn apply(out: &mut HostConfig, key: &str, args: &[String], host: &str) {
    let first = args.first().map(String::as_str).unwrap_or("");
    match key {
        "hostname" if out.hostname.is_none() => out.hostname = Some(expand_hostname(first, host)),
        "user" if out.user.is_none() => out.user = Some(first.to_string()),
        "port" if out.port.is_none() => out.port = first.parse().ok(),
        "identityfile" if !out.identity_files.iter().any(|f| f == first) => {
            out.identity_files.push(first.to_string())
        }
        "identitiesonly" if out.identities_only.is_none() => out.identities_only = yes_no(first),
        "proxyjump" if out.proxy_jump.is_none() => out.proxy_jump = Some(first.to_string()),
        "userknownhostsfile" if out.user_known_hosts.is_none() => {
            out.user_known_hosts = Some(first.to_string())
        }
        "stricthostkeychecking" if out.strict_host_key_checking.is_none() => {
            out.strict_host_key_checking = Some(match first.to_ascii_lowercase().as_str() {
                // play never connects without checking: `no`/`off` record unknown keys
                // (changed keys still fail), as accept-new.
                "accept-new" | "no" | "off" => HostKeyPolicy::AcceptNew,
                _ => HostKeyPolicy::Strict,
            })
        }
        "connecttimeout" if out.connect_timeout.is_none() => {
            out.connect_timeout = first.parse().ok().map(Duration::from_secs)
        }
        "serveraliveinterval" if out.server_alive_interval.is_none() => {
            out.server_alive_interval = first.parse().ok().map(Duration::from_secs)
        }
        _ => {}
    }
}

/// Values for `%` tokens of paths.
#[derive(Debug, Clone)]
pub struct Tokens<'a> {
    /// `%h`: the host name connected to (HostName).
    pub hostname: &'a str,
    /// `%n`: the name given.
    pub original: &'a str,
    /// `%r`: the remote user.
    pub user: &'a str,
    /// `%p`
    pub port: u16,
}

impl HostConfig {
    /// A path setting with `~/` and `%d %h %n %p %r %u %%` expanded. Unknown tokens are an
    /// error (naming the token).
    pub fn expand(&self, raw: &str, t: &Tokens<'_>, ctx: &Context) -> Result<PathBuf, String> {
        let out = percent(raw, |c| {
            Some(match c {
                'd' => ctx.home.to_string_lossy().into_owned(),
                'h' => t.hostname.to_string(),
                'n' => t.original.to_string(),
                'p' => t.port.to_string(),
                'r' => t.user.to_string(),
                'u' => ctx.local_user.clone(),
                _ => return None,
            })
        })?;
        Ok(if out == "~" {
            ctx.home.clone()
        } else if let Some(rest) = out.strip_prefix("~/") {
            ctx.home.join(rest)
        } else {
            PathBuf::from(out)
        })
    }
}

/// `ProxyJump` value: `none` → empty; else `[user@]host[:port]`, comma-separated.
pub fn parse_jumps(value: &str) -> Result<Vec<JumpSpec>, String> {
    if value.eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    value
        .split(',')
        .map(|hop| {
            let hop = hop.trim();
            let hop = hop.strip_prefix("ssh://").unwrap_or(hop);
            let (user, rest) = match hop.rsplit_once('@') {
                Some((u, r)) => (Some(u.to_string()), r),
                None => (None, hop),
            };
            let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
                match v6.split_once(']') {
                    Some((h, tail)) => (h.to_string(), tail.strip_prefix(':')),
                    None => return Err(format!("`{hop}`: unclosed [")),
                }
            } else {
                match rest.rsplit_once(':') {
                    Some((h, p)) => (h.to_string(), Some(p)),
                    None => (rest.to_string(), None),
                }
            };
            let port = match port {
                Some(p) => Some(
                    p.parse::<u16>()
                        .ok()
                        .filter(|p| *p > 0)
                        .ok_or_else(|| format!("`{hop}`: bad port `{p}`"))?,
                ),
                None => None,
            };
            if host.is_empty() || user.as_deref() == Some("") {
                return Err(format!("`{hop}`: expected [user@]host[:port]"));
            }
            Ok(JumpSpec { user, host, port })
        })
        .collect()
}

fn parse_file(path: &Path, ctx: &Context, depth: usize) -> Result<Parsed, SshConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| SshConfigError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    parse_text(&text, path, ctx, depth)
}

/// Splits a line into words: whitespace-separated, `"quoted words"`, `#` starting a word ends
/// the line; the first word may end with `=` (or be `key=value`).
fn words(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quoted = false;
    for c in line.chars() {
        if quoted {
            if c == '"' {
                quoted = false;
            } else {
                cur.push(c);
            }
            continue;
        }
        match c {
            '"' => {
                quoted = true;
                in_word = true;
            }
            '#' if !in_word => break,
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '=' if out.is_empty() && !in_word => {
                // `Key = value`: a lone = after the keyword.
            }
            '=' if out.is_empty() => {
                out.push(std::mem::take(&mut cur));
                in_word = false;
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quoted {
        return Err("unterminated quote".into());
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

fn parse_text(
    text: &str,
    path: &Path,
    ctx: &Context,
    depth: usize,
) -> Result<Parsed, SshConfigError> {
    let mut lines = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let err = |message: String| SshConfigError::Syntax {
            path: path.to_path_buf(),
            line: n,
            message,
        };
        let w = words(raw).map_err(&err)?;
        let Some((key, args)) = w.split_first() else {
            continue;
        };
        let key = key.to_ascii_lowercase();
        let args: Vec<String> = args.to_vec();
        let first = args.first().map(String::as_str);
        match key.as_str() {
            "host" => {
                if args.is_empty() {
                    return Err(err("`Host` needs at least one pattern".into()));
                }
                lines.push(Line::Host { patterns: args });
            }
            "match" => lines.push(Line::Match {
                criteria: parse_match(&args).map_err(&err)?,
            }),
            "include" => {
                if args.is_empty() {
                    return Err(err("`Include` needs a file".into()));
                }
                if depth >= MAX_DEPTH {
                    return Err(err(format!("`Include` nested more than {MAX_DEPTH} deep")));
                }
                let mut files = Vec::new();
                for a in &args {
                    for p in include_paths(a, ctx).map_err(&err)? {
                        files.push(parse_file(&p, ctx, depth + 1)?);
                    }
                }
                lines.push(Line::Include { files });
            }
            _ => {
                if let Some(what) = bad_value(&key, first) {
                    return Err(err(format!("`{}` needs {what}", w[0])));
                }
                if key == "proxyjump" {
                    if let Some(v) = first {
                        parse_jumps(v).map_err(|m| err(format!("ProxyJump {m}")))?;
                    }
                }
                lines.push(Line::Option { key, args });
            }
        }
    }
    Ok(Parsed { lines })
}

/// What a keyword's value must be, when `value` is not that.
fn bad_value(key: &str, value: Option<&str>) -> Option<&'static str> {
    let ok = match key {
        "hostname" | "user" | "proxyjump" | "userknownhostsfile" | "identityfile" => {
            value.is_some()
        }
        "port" => value
            .and_then(|p| p.parse::<u16>().ok())
            .is_some_and(|p| p > 0),
        "identitiesonly" => value.and_then(yes_no).is_some(),
        "stricthostkeychecking" => value.is_some_and(|v| {
            matches!(
                v.to_ascii_lowercase().as_str(),
                "yes" | "no" | "ask" | "accept-new" | "off" | "true" | "false"
            )
        }),
        "connecttimeout" | "serveraliveinterval" => {
            value.and_then(|v| v.parse::<u64>().ok()).is_some()
        }
        _ => true,
    };
    if ok {
        return None;
    }
    Some(match key {
        "port" => "a port number (1-65535)",
        "identitiesonly" => "yes or no",
        "stricthostkeychecking" => "yes, no, ask, accept-new or off",
        "connecttimeout" | "serveraliveinterval" => "a number of seconds",
        _ => "a value",
    })
}

fn parse_match(args: &[String]) -> Result<Vec<Criterion>, String> {
    if args.is_empty() {
        return Err("`Match` needs criteria".into());
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let word = args[i].to_ascii_lowercase();
        let (negate, name) = match word.strip_prefix('!') {
            Some(n) => (true, n.to_string()),
            None => (false, word.clone()),
        };
        match name.as_str() {
            "all" => {
                if negate || args.len() != 1 {
                    return Err("`Match all` takes no other criteria".into());
                }
                out.push(Criterion::All);
                i += 1;
            }
            "host" | "user" => {
                let list = args
                    .get(i + 1)
                    .ok_or_else(|| format!("`Match {name}` needs a pattern list"))?
                    .clone();
                out.push(if name == "host" {
                    Criterion::Host { negate, list }
                } else {
                    Criterion::User { negate, list }
                });
                i += 2;
            }
            other => {
                return Err(format!(
                    "`Match {other}` is not supported by play (only `Match host`, `Match user` \
                     and `Match all`)"
                ))
            }
        }
    }
    Ok(out)
}

/// An `Include` argument: `~` expanded, relative to ~/.ssh, globbed (sorted; no match is fine).
fn include_paths(arg: &str, ctx: &Context) -> Result<Vec<PathBuf>, String> {
    let p = if arg == "~" {
        ctx.home.clone()
    } else if let Some(rest) = arg.strip_prefix("~/") {
        ctx.home.join(rest)
    } else if Path::new(arg).is_absolute() {
        PathBuf::from(arg)
    } else {
        ctx.home.join(".ssh").join(arg)
    };
    let text = p.to_string_lossy().into_owned();
    if !text.contains(['*', '?', '[']) {
        return Ok(if p.is_file() { vec![p] } else { Vec::new() });
    }
    // Glob one path component at a time.
    let mut found = vec![PathBuf::from("/")];
    for comp in p.components().skip(1) {
        let part = comp.as_os_str().to_string_lossy().into_owned();
        let mut next = Vec::new();
        for base in &found {
            if part.contains(['*', '?', '[']) {
                let Ok(rd) = std::fs::read_dir(base) else {
                    continue;
                };
                let mut names: Vec<String> = rd
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| (!n.starts_with('.') || part.starts_with('.')) && glob(&part, n))
                    .collect();
                names.sort();
                next.extend(names.into_iter().map(|n| base.join(n)));
            } else {
                next.push(base.join(&part));
            }
        }
        found = next;
    }
    Ok(found.into_iter().filter(|p| p.is_file()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context {
            home: PathBuf::from("/home/me"),
            local_user: "me".into(),
        }
    }

    fn cfg(text: &str) -> SshConfig {
        SshConfig::parse(text, Path::new("/cfg"), &ctx()).expect("parse")
    }

    #[test]
    fn globs() {
        assert!(glob("*", "x"));
        assert!(glob("web?", "web1"));
        assert!(!glob("web?", "web12"));
        assert!(glob("*.example.com", "a.example.com"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxbyy"));
    }

    #[test]
    fn first_value_wins_and_negation_excludes() {
        let c = cfg("Host web* !web3\n  User a\nHost *\n  User b\n  Port=2200\n");
        assert_eq!(c.resolve("web1", &ctx()).user.as_deref(), Some("a"));
        assert_eq!(c.resolve("web3", &ctx()).user.as_deref(), Some("b"));
        assert_eq!(c.resolve("web3", &ctx()).port, Some(2200));
    }

    #[test]
    fn match_and_tokens() {
        let c = cfg("Host a\n HostName b.%h\nMatch host b.a\n User u\n IdentityFile ~/.ssh/%r@%h:%p_%n_%u\n");
        let h = c.resolve("a", &ctx());
        assert_eq!(h.hostname.as_deref(), Some("b.a"));
        assert_eq!(h.user.as_deref(), Some("u"));
        let t = Tokens {
            hostname: "b.a",
            original: "a",
            user: "u",
            port: 22,
        };
        assert_eq!(
            h.expand(&h.identity_files[0], &t, &ctx()).expect("expand"),
            PathBuf::from("/home/me/.ssh/u@b.a:22_a_me")
        );
        assert!(h.expand("%C", &t, &ctx()).is_err());
    }

    #[test]
    fn unsupported_match_names_file_and_line() {
        let e = SshConfig::parse("Host x\n\nMatch exec true\n", Path::new("/c"), &ctx())
            .expect_err("unsupported");
        assert_eq!(e.to_string().split(": ").next(), Some("/c:3"));
        assert!(e.to_string().contains("not supported"), "{e}");
        let e = SshConfig::parse("Port abc\n", Path::new("/c"), &ctx()).expect_err("bad port");
        assert!(e.to_string().starts_with("/c:1: `Port` needs"), "{e}");
    }

    #[test]
    fn jumps_parse() {
        assert_eq!(parse_jumps("none").expect("none"), vec![]);
        assert_eq!(
            parse_jumps("u@a:2222,b,[::1]:23").expect("chain"),
            vec![
                JumpSpec {
                    user: Some("u".into()),
                    host: "a".into(),
                    port: Some(2222)
                },
                JumpSpec {
                    user: None,
                    host: "b".into(),
                    port: None
                },
                JumpSpec {
                    user: None,
                    host: "::1".into(),
                    port: Some(23)
                },
            ]
        );
        assert!(parse_jumps("a:x").is_err());
        assert!(parse_jumps("@a").is_err());
    }
}
