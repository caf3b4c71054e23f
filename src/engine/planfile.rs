//! Reviewed plans, engine side: what a change depends on in the observed state (its
//! fingerprint), a change as a plan file records it ([`ChangePrint`]), and the check that
//! refuses a host whose fresh plan is not exactly the saved one (see `docs/plan-file.md`).
//!
//! Everything here is pure: the engine builds [`ChangePrint`]s right after planning a host,
//! `play diff --out` writes them (through [`normalize`]), and `play apply --plan` compares the
//! fresh ones with the saved ones ([`compare`]) before anything is applied.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::report::redact::Redactor;
use crate::resources::{Change, Observed, PathKind, PathState, Resource};

/// One planned change, as a plan file holds it and as `apply --plan` compares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangePrint {
    /// Resource kind (`file`, `git`, ...).
    pub kind: String,
    /// The resource's key (redacted).
    pub key: String,
    /// `create`, `update`, `delete`, `attrs`.
    pub action: String,
    /// Human summaries of the change (redacted).
    #[serde(default)]
    pub details: Vec<String>,
    /// True when the content is secret (`sensitive: true`, or it holds a vault value).
    #[serde(default)]
    pub sensitive: bool,
    /// The new content of a file-like change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<PlannedContent>,
    /// The fingerprint: what the change depends on in the observed state, by aspect
    /// (`path /etc/motd`, `checkout /srv/app`, `package nginx`, ...).
    #[serde(default)]
    pub depends: BTreeMap<String, String>,
}

/// The new content of a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedContent {
    /// The file written (a program's conf file, a service's unit file, or the resource's path).
    pub path: String,
    /// `sha256:HEX` of the content; for sensitive content `salted-sha256:HEX`, the digest of
    /// the plan's salt followed by the content's sha256 (never the content).
    pub digest: String,
    /// The content in clear when it is UTF-8 text and not sensitive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The content in base64 when it is not UTF-8 text and not sensitive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
}

/// Hex sha256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(bytes);
    h.finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
}

/// The digest a plan file stores for sensitive content: `salted-sha256:HEX`.
pub fn salted_digest(salt: &str, content_sha256: &str) -> String {
    format!(
        "salted-sha256:{}",
        sha256_hex(format!("{salt}\0{content_sha256}").as_bytes())
    )
}

/// How a path stands, in one line: `file sha256=… mode=0644 owner=root group=root`.
pub fn path_print(p: &PathState) -> String {
    let attrs = format!(
        "mode={} owner={} group={}",
        crate::resources::mode_str(p.mode),
        p.owner,
        p.group
    );
    match &p.kind {
        PathKind::Missing => "missing".into(),
        PathKind::File { size, sha256 } => format!(
            "file size={size} sha256={} {attrs}",
            sha256.as_deref().unwrap_or("?")
        ),
        PathKind::Directory { empty } => match empty {
            Some(true) => format!("directory (empty) {attrs}"),
            Some(false) => format!("directory (not empty) {attrs}"),
            None => format!("directory {attrs}"),
        },
        PathKind::Link { target } => format!("link -> {target} {attrs}"),
        PathKind::Other(what) => format!("{what} {attrs}"),
    }
}

/// What a change of `res` depends on in `observed`: every path it reads or writes, and the
/// state of its checkout, tree, release history, package, user, group or processes.
pub fn depends(res: &Resource, change: &Change, observed: &Observed) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let path = |p: &str, out: &mut BTreeMap<String, String>| {
        out.insert(format!("path {p}"), path_print(&observed.path(p)));
    };
    let d = &res.desired;
    for p in d.probe_paths() {
        path(&p, &mut out);
    }
    if let Some(cc) = &change.content {
        path(&cc.path, &mut out);
    }
    for p in d.print_paths() {
        path(&p, &mut out);
    }
    d.depends(observed, &mut out);
    out
}

/// A host's planned changes as prints, raw (content in clear, nothing redacted): what the
/// engine keeps in its report; [`normalize`] makes them fit for a plan file.
pub fn prints(resources: &[Resource], changes: &[Change], observed: &Observed) -> Vec<RawPrint> {
    changes
        .iter()
        .filter_map(|c| {
            let res = resources.get(c.index)?;
            Some(RawPrint {
                change: c.clone(),
                depends: depends(res, c, observed),
            })
        })
        .collect()
}

/// A planned change with its fingerprint, before redaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPrint {
    pub change: Change,
    pub depends: BTreeMap<String, String>,
}

/// The prints a plan file holds: strings redacted, sensitive contents (resources marked
/// `sensitive`, or holding a vault value) reduced to a salted digest.
pub fn normalize(raw: &[RawPrint], red: &Redactor, salt: &str) -> Vec<ChangePrint> {
    raw.iter()
        .map(|r| {
            let c = &r.change;
            let sensitive = c.sensitive || red.change_has_secret(c);
            let content = c.content.as_ref().map(|cc| {
                let sha = sha256_hex(&cc.new);
                if sensitive {
                    PlannedContent {
                        path: red.string(&cc.path),
                        digest: salted_digest(salt, &sha),
                        text: None,
                        base64: None,
                    }
                } else {
                    let (text, base64) = match std::str::from_utf8(&cc.new) {
                        Ok(t) => (Some(t.to_string()), None),
                        Err(_) => {
                            use base64::Engine as _;
                            (
                                None,
                                Some(base64::engine::general_purpose::STANDARD.encode(&cc.new)),
                            )
                        }
                    };
                    PlannedContent {
                        path: red.string(&cc.path),
                        digest: format!("sha256:{sha}"),
                        text,
                        base64,
                    }
                }
            });
            ChangePrint {
                kind: c.kind.as_str().to_string(),
                key: red.string(&c.key),
                action: c.action.verb().to_string(),
                details: c.all_details().iter().map(|d| red.string(d)).collect(),
                sensitive,
                content,
                // A sensitive file's observed digest says as much as its content's: salted.
                depends: r
                    .depends
                    .iter()
                    .map(|(k, v)| {
                        let v = if sensitive {
                            salted_digest(salt, &sha256_hex(v.as_bytes()))
                        } else {
                            red.string(v)
                        };
                        (red.string(k), v)
                    })
                    .collect(),
            }
        })
        .collect()
}

/// What a saved plan expects of one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostExpectation {
    /// The host's planned changes.
    Changes(Vec<ChangePrint>),
    /// The host was not planned (failed or unreachable at `diff --out`): refused.
    NotPlanned(String),
}

/// What `apply --plan` expects: the plan's salt and, by host, its changes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expected {
    pub plan_id: String,
    pub salt: String,
    pub hosts: BTreeMap<String, HostExpectation>,
}

/// Why the fresh plan of a host is not the saved one: one line per differing resource.
pub fn compare(saved: &[ChangePrint], fresh: &[ChangePrint]) -> Vec<String> {
    let id = |c: &ChangePrint| (c.kind.clone(), c.key.clone());
    let mut out = Vec::new();
    for s in saved {
        match fresh.iter().find(|f| id(f) == id(s)) {
            None => out.push(format!(
                "{} {}: planned ({}) but no longer needed",
                s.kind, s.key, s.action
            )),
            Some(f) if f != s => {
                let mut why = Vec::new();
                if f.action != s.action {
                    why.push(format!("action {} → {}", s.action, f.action));
                }
                if f.details != s.details {
                    why.push(format!(
                        "details [{}] → [{}]",
                        s.details.join(", "),
                        f.details.join(", ")
                    ));
                }
                let digest = |c: &ChangePrint| c.content.as_ref().map(|x| x.digest.clone());
                if digest(f) != digest(s) || f.sensitive != s.sensitive {
                    why.push("the rendered content differs from the plan's".into());
                }
                for (k, v) in &s.depends {
                    match f.depends.get(k) {
                        Some(w) if w == v => {}
                        Some(_) if s.sensitive => why.push(format!("{k}: changed (sensitive)")),
                        Some(w) => why.push(format!("{k}: {v} → {w}")),
                        None => why.push(format!("{k}: no longer observed")),
                    }
                }
                for k in f.depends.keys().filter(|k| !s.depends.contains_key(*k)) {
                    why.push(format!("{k}: newly observed"));
                }
                if why.is_empty() {
                    why.push("the change differs from the plan's".into());
                }
                out.push(format!("{} {}: {}", s.kind, s.key, why.join("; ")));
            }
            Some(_) => {}
        }
    }
    for f in fresh {
        if !saved.iter().any(|s| id(s) == id(f)) {
            out.push(format!(
                "{} {}: needs a change ({}) the plan does not have",
                f.kind, f.key, f.action
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{Action, ContentChange};

    fn observed_with(path: &str, state: PathState) -> Observed {
        let mut o = Observed::default();
        o.paths.insert(path.to_string(), state);
        o
    }

    fn file_state(sha: &str, mode: u32) -> PathState {
        PathState {
            kind: PathKind::File {
                size: 3,
                sha256: Some(sha.into()),
            },
            mode,
            owner: "root".into(),
            group: "root".into(),
        }
    }

    fn file_resource(path: &str) -> Resource {
        resource(&format!("file: {path}\ncontent: hi"))
    }

    /// The one resource of a playbook whose state is `- ENTRY`.
    fn resource(entry: &str) -> Resource {
        crate::resources::example::example(entry).expect("a resource")
    }

    fn change(path: &str, new: &[u8], sensitive: bool) -> Change {
        Change {
            kind: crate::resources::example::kind("file").expect("a kind"),
            key: path.into(),
            action: Action::Update,
            details: vec!["content".into()],
            content: Some(ContentChange {
                path: path.into(),
                old: None,
                old_sha256: None,
                old_size: None,
                old_unread: None,
                new: new.to_vec(),
                new_sha256: sha256_hex(new),
            }),
            sensitive,
            index: 0,
            after: None,
            expect: None,
            files: Default::default(),
            attrs: false,
            restarts: Default::default(),
        }
    }

    #[test]
    fn a_file_change_depends_on_its_path_kind_digest_mode_and_owner() {
        let res = file_resource("/etc/motd");
        let c = change("/etc/motd", b"hi\n", false);
        let o = observed_with("/etc/motd", file_state("aa", 0o644));
        let d = depends(&res, &c, &o);
        assert_eq!(
            d.get("path /etc/motd").map(String::as_str),
            Some("file size=3 sha256=aa mode=0644 owner=root group=root")
        );
        let o2 = observed_with("/etc/motd", file_state("bb", 0o644));
        let o3 = observed_with("/etc/motd", file_state("aa", 0o600));
        assert_ne!(depends(&res, &c, &o2), d);
        assert_ne!(depends(&res, &c, &o3), d);
        let missing = depends(&res, &c, &Observed::default());
        assert_eq!(
            missing.get("path /etc/motd").map(String::as_str),
            Some("missing")
        );
        assert_eq!(
            path_print(&PathState {
                kind: PathKind::Link {
                    target: "/a".into()
                },
                mode: 0o777,
                owner: "app".into(),
                group: "app".into()
            }),
            "link -> /a mode=0777 owner=app group=app"
        );
    }

    fn change_of(res: &Resource) -> Change {
        Change {
            kind: res.desired.kind(),
            key: res.desired.key().to_string(),
            action: Action::Create,
            details: vec![],
            content: None,
            sensitive: false,
            index: 0,
            after: None,
            expect: None,
            files: Default::default(),
            attrs: false,
            restarts: Default::default(),
        }
    }

    #[test]
    fn packages_users_and_units_are_fingerprinted_by_their_state() {
        let pkg = resource("package: nginx");
        let mut o = Observed::default();
        assert_eq!(
            depends(&pkg, &change_of(&pkg), &o)
                .get("package nginx")
                .map(String::as_str),
            Some("unknown")
        );
        o.deploy
            .host_records
            .insert("pkgq".into(), vec!["nginx\tamd64\tii \t1.22.1-9\n".into()]);
        assert_eq!(
            depends(&pkg, &change_of(&pkg), &o)
                .get("package nginx")
                .map(String::as_str),
            Some("ii 1.22.1-9 amd64")
        );
        let user = resource("user: app");
        o.deploy.users = Some(Default::default());
        assert_eq!(
            depends(&user, &change_of(&user), &o)
                .get("user app")
                .map(String::as_str),
            Some("absent")
        );
        let unit = resource("service: web");
        let d = depends(&unit, &change_of(&unit), &o);
        assert_eq!(
            d.get("unit web.service").map(String::as_str),
            Some("unknown")
        );
        // Its unit file is a path it depends on.
        assert_eq!(
            d.get("path /etc/systemd/system/web.service")
                .map(String::as_str),
            Some("missing")
        );
        o.units.insert(
            "web.service".into(),
            crate::systemd::UnitState {
                load_state: "loaded".into(),
                active_state: "active".into(),
                sub_state: "running".into(),
                unit_file_state: "enabled".into(),
                need_daemon_reload: false,
            },
        );
        assert_eq!(
            depends(&unit, &change_of(&unit), &o)
                .get("unit web.service")
                .map(String::as_str),
            Some("load=loaded active=active sub=running file=enabled reload-needed=false")
        );
    }

    #[test]
    fn compare_names_the_resources_whose_state_moved() {
        let res = file_resource("/etc/motd");
        let c = change("/etc/motd", b"hi\n", false);
        let raw_then = prints(
            std::slice::from_ref(&res),
            std::slice::from_ref(&c),
            &observed_with("/etc/motd", file_state("aa", 0o644)),
        );
        let raw_now = prints(
            std::slice::from_ref(&res),
            std::slice::from_ref(&c),
            &observed_with("/etc/motd", file_state("cc", 0o644)),
        );
        let red = Redactor::default();
        let then = normalize(&raw_then, &red, "salt");
        assert!(compare(&then, &then).is_empty());
        let now = normalize(&raw_now, &red, "salt");
        let why = compare(&then, &now);
        assert_eq!(why.len(), 1, "{why:?}");
        assert!(why[0].starts_with("file /etc/motd: path /etc/motd: file size=3 sha256=aa"));
        // A change no longer needed, and one the plan lacks.
        assert_eq!(
            compare(&then, &[]),
            vec!["file /etc/motd: planned (update) but no longer needed".to_string()]
        );
        assert_eq!(
            compare(&[], &then),
            vec!["file /etc/motd: needs a change (update) the plan does not have".to_string()]
        );
        // Other content rendered.
        let other = normalize(
            &prints(
                std::slice::from_ref(&res),
                &[change("/etc/motd", b"ho\n", false)],
                &observed_with("/etc/motd", file_state("aa", 0o644)),
            ),
            &red,
            "salt",
        );
        assert!(compare(&then, &other)[0].contains("rendered content differs"));
    }

    #[test]
    fn sensitive_and_vaulted_contents_are_digests_only() {
        let res = file_resource("/etc/app.conf");
        let o = observed_with("/etc/app.conf", file_state("5ecret5a", 0o600));
        let red = Redactor::with(vec!["hunter2-vault".into()]);
        let marked = normalize(
            &prints(
                std::slice::from_ref(&res),
                &[change("/etc/app.conf", b"sensitive-value-42", true)],
                &o,
            ),
            &red,
            "s1",
        );
        let vaulted = normalize(
            &prints(
                std::slice::from_ref(&res),
                &[change("/etc/app.conf", b"password=hunter2-vault\n", false)],
                &o,
            ),
            &red,
            "s1",
        );
        for p in marked.iter().chain(&vaulted) {
            assert!(p.sensitive);
            assert!(p.depends.values().all(|v| v.starts_with("salted-sha256:")));
            let json = serde_json::to_string(p).expect("json");
            assert!(!json.contains("sensitive-value-42") && !json.contains("hunter2-vault"));
            assert!(!json.contains("5ecret5a"), "{json}");
            let cc = p.content.as_ref().expect("content");
            assert!(cc.digest.starts_with("salted-sha256:"));
            assert!(cc.text.is_none() && cc.base64.is_none());
        }
        // The digest depends on the salt (no lookup table across plans), and is stable.
        let again = normalize(
            &prints(
                std::slice::from_ref(&res),
                &[change("/etc/app.conf", b"sensitive-value-42", true)],
                &o,
            ),
            &red,
            "s2",
        );
        assert_ne!(marked[0].content, again[0].content);
        // A moved sensitive file is named, its digests are not shown.
        let moved = normalize(
            &prints(
                std::slice::from_ref(&res),
                &[change("/etc/app.conf", b"sensitive-value-42", true)],
                &observed_with("/etc/app.conf", file_state("0ther", 0o600)),
            ),
            &red,
            "s1",
        );
        assert_eq!(
            compare(&marked, &moved),
            vec!["file /etc/app.conf: path /etc/app.conf: changed (sensitive)".to_string()]
        );
        assert_eq!(
            marked[0].content.as_ref().map(|c| &c.digest),
            Some(&salted_digest("s1", &sha256_hex(b"sensitive-value-42")))
        );
        // Clear contents travel as text, binary ones as base64.
        let clear = normalize(
            &prints(
                std::slice::from_ref(&res),
                &[change("/etc/app.conf", b"plain\n", false)],
                &o,
            ),
            &red,
            "s1",
        );
        assert_eq!(
            clear[0].content.as_ref().and_then(|c| c.text.as_deref()),
            Some("plain\n")
        );
        let bin = normalize(
            &prints(
                std::slice::from_ref(&res),
                &[change("/etc/app.conf", &[0xff, 0x00], false)],
                &o,
            ),
            &red,
            "s1",
        );
        assert_eq!(
            bin[0].content.as_ref().and_then(|c| c.base64.as_deref()),
            Some("/wA=")
        );
    }
}
