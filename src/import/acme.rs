//! ACME certificates in Ansible projects: the `certbot certonly …` and `certbot --nginx …`
//! shell lines (with or without `sudo`, with or without `creates: /etc/letsencrypt/live/D/…`)
//! as play's `certbot:` (what it cannot say stays a command). Named `acme`, not `certbot`:
//! only the kind's own file is the `certbot` module (`tests/kinds.rs`).

use crate::import::task::Task;
use crate::yaml::Value;

use super::Res;

/// The words of `-d a,b` (`,` outside templates).
fn split_domains(w: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    let b = w.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if w[i..].starts_with("{{") {
            depth += 1;
            cur.push_str("{{");
            i += 2;
        } else if w[i..].starts_with("}}") && depth > 0 {
            depth -= 1;
            cur.push_str("}}");
            i += 2;
        } else {
            let c = w[i..].chars().next().unwrap_or(',');
            if c == ',' && depth == 0 {
                out.push(std::mem::take(&mut cur));
            } else {
                cur.push(c);
            }
            i += c.len_utf8();
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty())
        .collect()
}

/// Flags that take no value and change nothing play's step does not do itself.
const IGNORED: &[&str] = &[
    "--agree-tos",
    "-n",
    "--noninteractive",
    "--non-interactive",
    "--expand",
    "-q",
    "--quiet",
    "--keep-until-expiring",
    "--keep",
];

/// A literal value (no template) that `certbot:` refuses for `key`.
fn refused(key: &str, v: &str) -> bool {
    crate::resources::registry::check_value("certbot", key, v).is_err()
}

/// `[sudo] certbot [certonly|run] FLAGS…` (one command, no shell operators): the `certbot:` it
/// obtains. `None`: another command, a flag play does not carry, no method, or a guard other
/// than `creates:` of the lineage.
pub fn idiom(cmd: &str, t: &Task) -> Option<Res> {
    if cmd.contains("{%") || t.arg(&["chdir"]).is_some() || t.arg(&["removes"]).is_some() {
        return None;
    }
    let split = crate::import::task::words(cmd);
    let words: Vec<String> = (split.iter())
        .map(|(w, _)| w.replace("| quote", "").replace("|quote", ""))
        .collect();
    // a hook's value quoted whole, which the shell passes on as it is (`'…'`, or `"…"` without
    // an expansion): certbot's shell runs it later, operators and all
    let hook_flag = |w: &str| matches!(w, "--pre-hook" | "--post-hook");
    let literal: Vec<bool> = (0..split.len())
        .map(|i| {
            let raw = &cmd[split[i].1.clone()];
            let value = match raw.split_once('=') {
                Some((k, v)) if hook_flag(k) => v,
                _ if i > 0 && hook_flag(&words[i - 1]) => raw,
                _ => return false,
            };
            let quoted = |q: char| value.len() >= 2 && value.starts_with(q) && value.ends_with(q);
            quoted('\'') || (quoted('"') && !value.contains(['$', '`', '\\']))
        })
        .collect();
    let mut w: Vec<&str> = words.iter().map(String::as_str).collect();
    let mut literal = &literal[..];
    if w.first() == Some(&"sudo") {
        w.remove(0);
        literal = &literal[1..];
    }
    if !matches!(
        w.first(),
        Some(&("certbot" | "/usr/bin/certbot" | "/usr/local/bin/certbot"))
    ) {
        return None;
    }
    if (w.iter().zip(literal)).any(|(x, lit)| {
        !lit && super::outside_templates(x).contains(['|', ';', '&', '<', '>', '`', '$'])
    }) {
        return None;
    }
    let mut rest = &w[1..];
    let mut certonly = false;
    match rest.first() {
        Some(&"certonly") => {
            certonly = true;
            rest = &rest[1..];
        }
        Some(&"run") => rest = &rest[1..],
        Some(s) if !s.starts_with('-') => return None,
        _ => {}
    }
    let (mut domains, mut email, mut method, mut webroot, mut name, mut server) =
        (Vec::new(), None, None, None, None, None);
    let (mut pre_hook, mut post_hook) = (None, None);
    let mut it = rest.iter().flat_map(|a| match a.split_once('=') {
        Some((k, v)) if k.starts_with("--") => vec![k, v],
        _ => vec![*a],
    });
    while let Some(a) = it.next() {
        match a {
            "-d" | "--domain" | "--domains" => domains.extend(split_domains(it.next()?)),
            "-m" | "--email" => email = Some(it.next()?.to_string()),
            "--register-unsafely-without-email" => email = None,
            "--cert-name" => name = Some(it.next()?.to_string()),
            "--server" => server = Some(it.next()?.to_string()),
            "-w" | "--webroot-path" => webroot = Some(it.next()?.to_string()),
            "--pre-hook" => pre_hook = Some(it.next()?.to_string()),
            "--post-hook" => post_hook = Some(it.next()?.to_string()),
            "--standalone" | "--nginx" | "--apache" | "--webroot" => {
                if method.replace(a.trim_start_matches('-')).is_some() {
                    return None;
                }
            }
            f if IGNORED.contains(&f) => {}
            _ => return None,
        }
    }
    let method = method?;
    if domains.is_empty()
        || (method == "webroot") != webroot.is_some()
        || (!certonly && !matches!(method, "nginx" | "apache"))
    {
        return None;
    }
    let name = name.unwrap_or_else(|| domains[0].clone());
    // a literal name is checked now, as the kind checks its rendered key
    let registry =
        crate::resources::registry::by_name("certbot").map(crate::resources::registry::def)?;
    if !name.contains("{{") && (registry.check_key)(&name).is_err() {
        return None;
    }
    if (domains.iter()).any(|d| refused("domains", d))
        || email.as_deref().is_some_and(|e| refused("email", e))
        || server.as_deref().is_some_and(|s| refused("server", s))
        || pre_hook.as_deref().is_some_and(|h| refused("pre_hook", h))
        || post_hook
            .as_deref()
            .is_some_and(|h| refused("post_hook", h))
    {
        return None;
    }
    let lineage = format!("/etc/letsencrypt/live/{name}");
    let creates = t.arg_str(&["creates"]);
    if let Some(c) = &creates {
        // `{{ d }}` and `{{d}}` alike
        let c = super::squeeze(c);
        let under = c.strip_prefix(&super::squeeze(&lineage));
        if !under.is_some_and(|r| r.is_empty() || r.starts_with('/')) {
            return None;
        }
    }
    let mut r = Res::new("certbot", name.clone());
    if domains != [name] {
        r.set(
            "domains",
            Value::Sequence(domains.into_iter().map(Value::String).collect()),
        );
    }
    if let Some(e) = email {
        r.set("email", e);
    }
    r.set("method", method);
    if let Some(p) = webroot {
        r.set("webroot", p);
    }
    if !certonly {
        r.set("certonly", false);
    }
    if let Some(s) = server {
        r.set("server", s);
    }
    if let Some(h) = pre_hook {
        r.set("pre_hook", h);
    }
    if let Some(h) = post_hook {
        r.set("post_hook", h);
    }
    r.comments.push(format!(
        "play import: `certbot{}` → certbot (obtained while its lineage is missing, again when its domains differ or it has expired; renewal stays certbot's timer)",
        if certonly { " certonly" } else { "" }
    ));
    if creates.is_some() {
        r.notes.push(
            "`creates:` dropped: `certbot:` checks the lineage itself (and its domains and expiry)"
                .into(),
        );
    }
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(cmd: &str, creates: Option<&str>) -> Task {
        let mut t = Task {
            module: "shell".into(),
            free: Some(cmd.into()),
            ..Default::default()
        };
        if let Some(c) = creates {
            t.args.push(("creates".into(), Value::String(c.into())));
        }
        t
    }

    fn fields(r: &Res) -> String {
        r.fields
            .iter()
            .map(|(k, v)| format!("{k}={}", crate::yaml::to_string(v).trim()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn the_corpus_lines_become_certbot_entries() {
        let r = idiom(
            "sudo certbot --nginx --noninteractive --agree-tos --email {{ letsencrypt_email }} -d {{ domain }}",
            &task("", None),
        )
        .unwrap();
        assert_eq!(
            fields(&r),
            "certbot='{{ domain }}' email='{{ letsencrypt_email }}' method=nginx certonly=false"
        );
        let r = idiom(
            "certbot certonly --nginx --noninteractive --agree-tos --expand -d {{ domain }},{{ errbit_domain }}",
            &task("", None),
        )
        .unwrap();
        assert_eq!(
            fields(&r),
            "certbot='{{ domain }}' domains=- '{{ domain }}'\n- '{{ errbit_domain }}' method=nginx"
        );
        let r = idiom(
            "certbot certonly --standalone -d {{domain_name}} -n --agree-tos -m {{letsencrypt_email}}",
            &task("", Some("/etc/letsencrypt/live/{{domain_name}}/fullchain.pem")),
        )
        .unwrap();
        assert_eq!(
            fields(&r),
            "certbot='{{domain_name}}' email='{{letsencrypt_email}}' method=standalone"
        );
        assert!(r.notes[0].contains("`creates:` dropped"), "{:?}", r.notes);
    }

    #[test]
    fn webroot_cert_name_and_repeated_domains() {
        let r = idiom(
            "certbot certonly --webroot -w /var/www/acme --cert-name site -d a.example -d b.example --server=https://acme-staging-v02.api.letsencrypt.org/directory --register-unsafely-without-email",
            &task("", None),
        )
        .unwrap();
        assert_eq!(
            fields(&r),
            "certbot=site domains=- a.example\n- b.example method=webroot webroot=/var/www/acme server=https://acme-staging-v02.api.letsencrypt.org/directory"
        );
    }

    #[test]
    fn what_play_cannot_say_stays_a_command() {
        for cmd in [
            "certbot renew",
            "certbot certonly -d a.example", // no method
            "certbot certonly --standalone -d a.example --redirect", // unknown flag
            "certbot --standalone -d a.example", // nothing to install into
            "certbot certonly --webroot -d a.example", // no -w
            "certbot certonly --standalone --nginx -d a.example",
            "certbot certonly --standalone -d a.example && systemctl reload nginx",
            "certbot certonly --standalone -d 'a b'",
            "certbot certonly --standalone -d a.example -m not-an-email",
            "openssl version",
        ] {
            assert_eq!(idiom(cmd, &task("", None)), None, "{cmd}");
        }
        // a guard other than the lineage's own files
        assert_eq!(
            idiom(
                "certbot certonly --standalone -d a.example",
                &task("", Some("/etc/nginx/done"))
            ),
            None
        );
    }

    #[test]
    fn hooks_are_carried_quoted_operators_and_all() {
        let r = idiom(
            "certbot certonly --standalone -d a.example --pre-hook 'systemctl stop nginx; sleep 1' --post-hook=\"systemctl start nginx\"",
            &task("", None),
        )
        .unwrap();
        assert_eq!(
            fields(&r),
            "certbot=a.example method=standalone pre_hook=systemctl stop nginx; sleep 1 post_hook=systemctl start nginx"
        );
        for cmd in [
            "certbot certonly --standalone -d a.example --pre-hook systemctl;x",
            "certbot certonly --standalone -d a.example --pre-hook \"echo $HOME; x\"",
            "certbot certonly --standalone -d a.example -m 'a;b@x'",
            "certbot certonly --standalone -d a.example --pre-hook None",
        ] {
            assert_eq!(idiom(cmd, &task("", None)), None, "{cmd}");
        }
    }

    #[test]
    fn commas_inside_templates_are_not_split() {
        assert_eq!(
            split_domains("{{ a | join(',') }},b.example"),
            vec!["{{ a | join(',') }}", "b.example"]
        );
    }
}
