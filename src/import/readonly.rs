//! Which registered `command:`/`shell:` lines change nothing on the host, so that they become
//! gathered values (`gather:`, run in the probe, during `play diff` too) instead of commands.
//!
//! A command line is read-only when every simple command of it (split at `|`, `||`, `&&`,
//! `;` and newlines, outside quotes and `{{ }}`) runs a program of [`ALLOW`] with arguments
//! that program reads with ([`program_ok`]), and it writes to no file: the only redirections
//! are to `/dev/null`, between stdout and stderr, or from a file. No command substitution,
//! subshell, background job, here-document, `eval`, `source`, `sudo`, `xargs` or `tee`.
//! `changed_when: false` is no proof (rvm's `gpg --recv-keys` has it and writes a keyring).
//!
//! A program given as a template (`{{ rvm1_rvm }} list strings`) is the program its var names
//! (its value's last path part), when the project sets that var.

/// Programs that read only, whatever their arguments (except those [`program_ok`] refuses).
pub const ALLOW: &[&str] = &[
    "cat",
    "ls",
    "date",
    "ps",
    "grep",
    "egrep",
    "fgrep",
    "awk",
    "gawk",
    "mawk",
    "head",
    "tail",
    "wc",
    "sort",
    "uniq",
    "cut",
    "tr",
    "readlink",
    "realpath",
    "stat",
    "test",
    "[",
    "id",
    "getent",
    "uname",
    "hostname",
    "whoami",
    "groups",
    "lsb_release",
    "dpkg-query",
    "dpkg",
    "apt-cache",
    "which",
    "command",
    "type",
    "basename",
    "dirname",
    "echo",
    "printf",
    "true",
    "false",
    "pwd",
    "cd",
    "find",
    "md5sum",
    "sha1sum",
    "sha256sum",
    "du",
    "df",
    "free",
    "uptime",
    "nproc",
    "arch",
    "pgrep",
    "pidof",
    "systemctl",
    "git",
    "wp",
    "rvm",
    "nginx",
    "file",
    "getconf",
    "ip",
];

/// Programs whose `--version` (or `-v`/`-V`/`version`, alone) prints their version.
const VERSION_ONLY: &[&str] = &[
    "node",
    "nodejs",
    "npm",
    "ruby",
    "gem",
    "bundle",
    "python",
    "python2",
    "python3",
    "pip",
    "pip3",
    "php",
    "composer",
    "java",
    "go",
    "perl",
    "psql",
    "mysql",
    "mongo",
    "redis-server",
    "openssl",
    "certbot",
    "consul",
    "nginx",
    "apache2",
    "docker",
    "ansible",
    "yarn",
];

/// Why `cmd` is not read-only (`None`: it is). `var` gives the value of a project var.
pub fn why_not(cmd: &str, var: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let commands = match split(cmd) {
        Ok(c) => c,
        Err(why) => return Some(why),
    };
    if commands.is_empty() {
        return Some("an empty command".into());
    }
    for words in commands {
        let mut words = words;
        // redirections: taken out, checked
        let mut kept = Vec::new();
        let mut i = 0;
        while i < words.len() {
            let w = &words[i];
            if let Some(target) = redirect(w) {
                let target = match target {
                    Some(t) => t,
                    None => match words.get(i + 1) {
                        Some(t) => {
                            i += 1;
                            t.clone()
                        }
                        None => return Some(format!("`{w}` without a target")),
                    },
                };
                let input = w.starts_with('<') || w.starts_with("0<");
                if !input && target != "/dev/null" && !target.starts_with('&') {
                    return Some(format!("writes to `{target}`"));
                }
            } else {
                kept.push(w.clone());
            }
            i += 1;
        }
        words = kept;
        let Some(first) = words.first() else {
            continue;
        };
        if first.contains('=') && !first.starts_with('{') {
            return Some(format!("sets `{first}` for the command"));
        }
        let program = match program_name(first, var) {
            Ok(p) => p,
            Err(why) => return Some(why),
        };
        if let Some(why) = program_ok(&program, &words[1..]) {
            return Some(why);
        }
    }
    None
}

/// The program a command's first word runs: its last path part, or that of the value of the
/// var a `{{ var }}` names; `Err` when it cannot be told.
fn program_name(first: &str, var: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let t = first.trim();
    let word = if let Some(inner) = t.strip_prefix("{{").and_then(|x| x.strip_suffix("}}")) {
        let name = inner.trim();
        let plain = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        // `{{ rvm1_install_path }}/bin/rvm` → rvm
        let base = var(name)
            .filter(|_| plain)
            .map(|v| v.trim().rsplit('/').next().unwrap_or("").to_string())
            .filter(|b| !b.is_empty() && !b.contains("{{") && !b.contains("}}"));
        match base {
            Some(b) => b,
            None => return Err(format!("the program is a template (`{t}`)")),
        }
    } else if t.contains("{{") {
        let base = t.rsplit('/').next().unwrap_or(t);
        if base.contains("{{") {
            return Err(format!("the program is a template (`{t}`)"));
        }
        base.to_string()
    } else {
        t.rsplit('/').next().unwrap_or(t).to_string()
    };
    Ok(word)
}

/// `Some(Some(target))` for `>x`, `2>/dev/null`, `<in`; `Some(None)` for a bare `>` whose
/// target is the next word; `None` for a word that is no redirection.
fn redirect(w: &str) -> Option<Option<String>> {
    let rest = w.trim_start_matches(|c: char| c.is_ascii_digit() || c == '&');
    let op = ["<", ">>", ">|", ">"]
        .into_iter()
        .find(|op| rest.starts_with(op))?;
    if w.starts_with('{') {
        return None;
    }
    let target = &rest[op.len()..];
    Some((!target.is_empty()).then(|| target.to_string()))
}

/// Why `program` with `args` may change something (`None`: it only reads).
fn program_ok(program: &str, args: &[String]) -> Option<String> {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let no = |why: &str| Some(format!("`{program}` {why}"));
    let sole_version = matches!(
        a.as_slice(),
        ["--version"] | ["-v"] | ["-V"] | ["version"] | ["-version"]
    );
    if VERSION_ONLY.contains(&program) && sole_version {
        return None;
    }
    if !ALLOW.contains(&program) {
        return if VERSION_ONLY.contains(&program) {
            no("is read-only only as `--version`")
        } else {
            no("is not on the read-only list")
        };
    }
    let has = |opts: &[&str]| {
        (a.iter()).any(|x| {
            opts.iter()
                .any(|o| x == o || x.strip_prefix(o).is_some_and(|r| r.starts_with('=')))
        })
    };
    let words: Vec<&str> = a.iter().copied().filter(|x| !x.starts_with('-')).collect();
    let sub = |n: usize| words.get(n).copied().unwrap_or("");
    let (reads, why) = match program {
        "date" => (!has(&["-s", "--set"]), "sets the clock"),
        "hostname" => (
            words.is_empty() && !has(&["-F", "--file", "-b", "--boot"]),
            "with a name sets it",
        ),
        "sort" => (!has(&["-o", "--output"]), "-o writes a file"),
        "uniq" => (words.len() <= 1, "writes its second file"),
        "tail" => (!has(&["-f", "-F", "--follow"]), "-f never ends"),
        "find" => (!has(FIND_ACTS), "acts on what it finds"),
        "awk" | "gawk" | "mawk" => (
            !(words.iter()).any(|x| x.contains('>') || x.contains('|') || x.contains("system")),
            "writes or runs commands (`>`, `|`, `system`)",
        ),
        "dpkg" => (
            a.first().is_some_and(|x| x.starts_with('-'))
                && (a.iter()).all(|x| DPKG_READS.contains(x) || !x.starts_with('-')),
            "changes packages unless -l, -s, -L or -S",
        ),
        "apt-cache" => (APT_CACHE_READS.contains(&sub(0)), "subcommand is not a query"),
        "command" => (
            has(&["-v", "-V"]),
            "runs the command (only `-v` looks it up)",
        ),
        "systemctl" => (SYSTEMCTL_READS.contains(&sub(0)), "subcommand changes units"),
        "git" => (
            GIT_READS.contains(&sub(0))
                || (sub(0) == "config" && has(&["--get", "--get-all", "--list", "-l"]))
                || (sub(0) == "remote" && ["get-url", "show", ""].contains(&sub(1))),
            "subcommand changes the repository",
        ),
        "wp" => (
            WP_READS.contains(&(sub(0), sub(1))),
            "subcommand may change the site (only queries such as `core is-installed`)",
        ),
        "rvm" => (
            ["list", "version", "current"].contains(&sub(0))
                || (sub(0) == "alias" && sub(1) == "list")
                || a.ends_with(&["do", "true"]),
            "subcommand changes rubies (only `list`, `version`, `current`, `alias list`, `X do true`)",
        ),
        "nginx" => (
            !a.is_empty() && a.iter().all(|x| *x == "-v" || *x == "-V"),
            "only `-v`/`-V` reads",
        ),
        "ip" => (
            ["a", "addr", "address", "r", "route", "l", "link"].contains(&sub(0))
                && ["", "show", "list"].contains(&sub(1)),
            "subcommand changes the network",
        ),
        "echo" | "printf" => (!a.contains(&"-v"), "-v sets a var"),
        _ => (true, ""),
    };
    (!reads).then(|| format!("`{program}` {why}"))
}

/// `find`'s actions that act on what it finds (or write files).
const FIND_ACTS: &[&str] = &[
    "-delete", "-exec", "-execdir", "-ok", "-okdir", "-fprint", "-fprint0", "-fprintf", "-fls",
];
/// `dpkg`'s options that only read.
const DPKG_READS: &[&str] = &[
    "-l",
    "--list",
    "-s",
    "--status",
    "-L",
    "--listfiles",
    "--get-selections",
    "--print-architecture",
    "-S",
    "--search",
];
const APT_CACHE_READS: &[&str] = &[
    "show", "policy", "search", "madison", "depends", "rdepends", "pkgnames", "showpkg", "showsrc",
];
const SYSTEMCTL_READS: &[&str] = &[
    "is-active",
    "is-enabled",
    "is-failed",
    "status",
    "show",
    "list-units",
    "list-unit-files",
    "cat",
];
const GIT_READS: &[&str] = &[
    "rev-parse",
    "describe",
    "log",
    "status",
    "show",
    "ls-files",
    "ls-remote",
    "diff",
    "cat-file",
];
/// WP-CLI's queries: (command, subcommand).
const WP_READS: &[(&str, &str)] = &[
    ("core", "is-installed"),
    ("core", "version"),
    ("option", "get"),
    ("plugin", "is-installed"),
    ("plugin", "list"),
    ("plugin", "get"),
    ("plugin", "status"),
    ("theme", "is-installed"),
    ("theme", "list"),
    ("cli", "version"),
    ("site", "list"),
];

/// The simple commands of a command line, as words (quotes removed, `{{ }}` kept whole);
/// `Err` for what this check does not follow.
pub fn split(cmd: &str) -> Result<Vec<Vec<String>>, String> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let chars: Vec<char> = cmd.chars().collect();
    let mut i = 0;
    let end_word = |cur: &mut String, in_word: &mut bool, words: &mut Vec<String>| {
        if *in_word {
            words.push(std::mem::take(cur));
            *in_word = false;
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '{' if next == Some('{') || next == Some('%') => {
                let close = if next == Some('{') { "}}" } else { "%}" };
                let rest: String = chars[i..].iter().collect();
                let Some(e) = rest.find(close) else {
                    return Err("an unclosed template".into());
                };
                cur.push_str(&rest[..e + 2]);
                in_word = true;
                i += rest[..e + 2].chars().count();
                continue;
            }
            '\'' => {
                let Some(e) = chars[i + 1..].iter().position(|&x| x == '\'') else {
                    return Err("an unclosed quote".into());
                };
                cur.extend(&chars[i + 1..i + 1 + e]);
                in_word = true;
                i += e + 2;
                continue;
            }
            '"' => {
                let mut j = i + 1;
                loop {
                    match chars.get(j) {
                        None => return Err("an unclosed quote".into()),
                        Some('"') => break,
                        Some('\\') => {
                            if let Some(n) = chars.get(j + 1) {
                                cur.push(*n);
                            }
                            j += 2;
                        }
                        Some('`') => return Err("a command substitution".into()),
                        Some('$') if chars.get(j + 1) == Some(&'(') => {
                            return Err("a command substitution".into())
                        }
                        Some(x) => {
                            cur.push(*x);
                            j += 1;
                        }
                    }
                }
                in_word = true;
                i = j + 1;
                continue;
            }
            '\\' => {
                if let Some(n) = next {
                    if n != '\n' {
                        cur.push(n);
                        in_word = true;
                    }
                }
                i += 2;
                continue;
            }
            '`' => return Err("a command substitution".into()),
            '$' if next == Some('(') => return Err("a command substitution".into()),
            '(' | ')' => return Err("a subshell".into()),
            '<' if next == Some('<') => return Err("a here-document".into()),
            '<' | '>' if next == Some('(') => return Err("a process substitution".into()),
            '&' if next == Some('&') => {
                end_word(&mut cur, &mut in_word, &mut words);
                out.push(std::mem::take(&mut words));
                i += 2;
                continue;
            }
            '&' if next == Some('>') || cur.ends_with('>') || cur.ends_with('<') => {
                cur.push(c);
                in_word = true;
            }
            '&' => return Err("a background job".into()),
            '|' | ';' | '\n' => {
                end_word(&mut cur, &mut in_word, &mut words);
                out.push(std::mem::take(&mut words));
                i += if c == '|' && next == Some('|') { 2 } else { 1 };
                continue;
            }
            '<' | '>' => {
                // a redirection operator starts a word of its own (`2>/dev/null`, `>x`)
                let fd = !cur.is_empty()
                    && (cur.chars()).all(|d| d.is_ascii_digit() || matches!(d, '&' | '<' | '>'));
                if !fd {
                    end_word(&mut cur, &mut in_word, &mut words);
                }
                cur.push(c);
                in_word = true;
            }
            c if c.is_whitespace() => end_word(&mut cur, &mut in_word, &mut words),
            c => {
                cur.push(c);
                in_word = true;
            }
        }
        i += 1;
    }
    end_word(&mut cur, &mut in_word, &mut words);
    out.push(words);
    out.retain(|w| !w.is_empty());
    for w in &out {
        let first = w[0].as_str();
        if matches!(
            first,
            "if" | "then"
                | "else"
                | "fi"
                | "for"
                | "while"
                | "do"
                | "done"
                | "case"
                | "esac"
                | "{"
                | "}"
                | "!"
                | "eval"
                | "exec"
                | "source"
                | "."
                | "sudo"
                | "su"
                | "xargs"
                | "tee"
                | "env"
                | "nohup"
                | "timeout"
        ) {
            return Err(format!("`{first}` (only plain commands are followed)"));
        }
    }
    Ok(out)
}

/// An idiom whose value is a fact: `lsb_release -cs` → `facts.os_codename`, `hostname` →
/// `facts.hostname`, `hostname -s` → its first label, `uname -m` → `facts.arch`, `nproc` →
/// `facts.cpus`. The template of the value's `stdout`.
pub fn fact_idiom(cmd: &str) -> Option<&'static str> {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let program = words.first()?.rsplit('/').next()?;
    let mut opts: Vec<&str> = words[1..].to_vec();
    opts.sort_unstable();
    Some(match (program, opts.as_slice()) {
        (
            "lsb_release",
            ["-cs"]
            | ["-sc"]
            | ["-c", "-s"]
            | ["--codename", "--short"]
            | ["--short", "-c"]
            | ["--codename", "-s"],
        ) => "{{ facts.os_codename }}",
        ("hostname", []) => "{{ facts.hostname }}",
        ("hostname", ["-s"] | ["--short"]) => "{{ facts.hostname.split('.')[0] }}",
        ("uname", ["-m"]) | ("arch", []) => "{{ facts.arch }}",
        ("nproc", []) => "{{ facts.cpus }}",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "rvm1_rvm" => Some("{{ rvm1_install_path }}/bin/rvm".into()),
            "tool" => Some("/usr/bin/shred".into()),
            _ => None,
        }
    }

    fn ro(cmd: &str) -> bool {
        why_not(cmd, &vars).is_none()
    }

    #[test]
    fn read_only_command_lines() {
        for c in [
            "cat .ruby-version",
            "date -u +%Y%m%d%H%M%S",
            "lsb_release -cs",
            "ps -ef | grep -v grep | grep -w delayed_job | awk '{print $2}'",
            "{{ rvm1_rvm }} list strings | grep {{ item }} | tail -n 1",
            "{{ rvm1_rvm }} {{ item }} do true",
            "apt-cache show python3-certbot-nginx",
            "wp core is-installed --skip-plugins --skip-themes",
            "nginx -V 2>&1 | grep -q 'with-http_v2_module'",
            "nginx -v 2>&1 | awk 'BEGIN{ FS=\"/\" } { print $2 }'",
            "cat {{ shared_dir }}/tmp/pids/puma.pid",
            "dpkg -l nginx",
            "dpkg-query -W -f='${Version}' nginx",
            "git rev-parse HEAD",
            "command -v node >/dev/null && node --version",
            "test -f /etc/x || echo missing",
            "which node 2>/dev/null",
            "grep -c x < /etc/passwd",
        ] {
            assert!(ro(c), "{c}: {:?}", why_not(c, &vars));
        }
    }

    #[test]
    fn commands_that_write_or_run_others() {
        for (c, why) in [
            ("bin/rake secret", "not on the read-only list"),
            (
                "source /home/x/.rvm/scripts/rvm && bin/rake secret",
                "`source`",
            ),
            (
                "gpg --batch --keyserver k --recv-keys K",
                "not on the read-only list",
            ),
            ("cat a > b", "writes to `b`"),
            ("cat a >> /etc/b", "writes to `/etc/b`"),
            ("echo x | tee /etc/y", "`tee`"),
            ("sed -i s/a/b/ f", "not on the read-only list"),
            ("date -s 12:00", "sets the clock"),
            ("hostname web1", "with a name sets it"),
            ("sort -o out in", "-o writes a file"),
            ("find / -name x -delete", "acts on what it finds"),
            ("awk '{print > \"/tmp/x\"}' f", "writes or runs commands"),
            ("echo $(rm -rf /)", "a command substitution"),
            ("echo `id`", "a command substitution"),
            ("(cd /x && ls)", "a subshell"),
            ("sleep 100 &", "a background job"),
            ("git pull", "changes the repository"),
            ("wp core install --url=x", "may change the site"),
            ("{{ rvm1_rvm }} install 2.7", "changes rubies"),
            (
                "{{ rvm1_rvm }} version; {{ tool }} -u f",
                "`shred` is not on",
            ),
            ("{{ unknown }} list", "the program is a template"),
            ("apt-cache gencaches", "not a query"),
            ("dpkg -i x.deb", "changes packages"),
            ("node install.js", "only as `--version`"),
            ("nginx -s reload", "only `-v`/`-V`"),
            ("systemctl restart nginx", "changes units"),
            ("FOO=1 ls", "sets `FOO=1`"),
            ("if true; then ls; fi", "`if`"),
            ("cat <<EOF", "a here-document"),
            ("command rm x", "runs the command"),
        ] {
            let got = why_not(c, &vars);
            assert!(
                got.as_deref().is_some_and(|g| g.contains(why)),
                "{c}: {got:?}, expected {why:?}"
            );
        }
    }

    #[test]
    fn fact_idioms() {
        assert_eq!(
            fact_idiom("lsb_release -c --short"),
            Some("{{ facts.os_codename }}")
        );
        assert_eq!(
            fact_idiom("lsb_release -cs"),
            Some("{{ facts.os_codename }}")
        );
        assert_eq!(
            fact_idiom("lsb_release -s -c"),
            Some("{{ facts.os_codename }}")
        );
        assert_eq!(
            fact_idiom("hostname -s"),
            Some("{{ facts.hostname.split('.')[0] }}")
        );
        assert_eq!(fact_idiom("hostname"), Some("{{ facts.hostname }}"));
        assert_eq!(fact_idiom("cat x"), None);
    }
}
