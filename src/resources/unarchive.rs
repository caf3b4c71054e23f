//! `unarchive: DEST` — an archive already on the host, extracted into the folder DEST
//! (Ansible's `unarchive` with `remote_src: yes`).
//!
//! ```yaml
//! - unarchive: /srv/app                 # the folder it extracts into (made when missing)
//!   src: /srv/app/app-1.2.tar.gz        # .tar, .tar.gz/.tgz, .tar.bz2/.tbz2, .tar.xz/.txz, .zip
//!   creates: /srv/app/bundle            # extracted only while this path is missing
//!   owner: app                          # extracted as this user; DEST and all below it get
//!   group: app                          #   the owner and group (`chown -R -P -h`)
//!   mode: "0755"                        # DEST's own mode
//! ```
//!
//! Without `creates`, the archive is extracted when DEST is missing or the archive's sha256
//! differs from the one recorded in `DEST/.play-unarchive-NAME` (NAME: the archive's file
//! name) at the last extraction, the record of `resources::project_deps`. An archive an
//! earlier step of the same run writes (a `download:` of it) makes the extraction known only
//! after that step.
//!
//! Probe record (one per entry): `unarch \0 DEST \0 DIR \0 STATE \0 SUM \0 CREATES \0 UNZIP \0`:
//! DIR, STATE and SUM as `project_deps` (`d` when DEST is a folder, the state file's text, the
//! archive's sha256 or `missing`), CREATES `y`/`n` (`-`: no `creates`), UNZIP `y` when the
//! host has `unzip` (`-`: not a zip).
//!
//! The extraction: with an `owner`, that user runs tar or unzip (reading the archive and
//! writing DEST with the user's own rights: a link the user placed gives them nothing they
//! did not have). Without one, root copies the archive (never through a link) into its
//! private temp folder and extracts it only into a DEST where nobody else can write: no folder
//! below DEST may belong to another user or be writable by group or others, else the step
//! fails (give `owner:`). GNU tar runs with `--no-same-owner` (and `--no-same-permissions`
//! as root); it and `unzip` strip leading `/` and refuse or strip `..` members, and both make
//! an archive's symbolic links only after its files, so no member is written through one.

use super::deploy::{Planned, Refused};
use super::project_deps;
use super::registry::Key;
use super::{Action, Attrs, Presence};
use crate::resolve::{Base, Keys, ResolveError};
use crate::transport::shell_quote;

/// The archive formats, told by the archive's file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// GNU tar, compressed or not (tar reads the compression from the bytes).
    Tar,
    /// `unzip`.
    Zip,
}

/// The file names' endings and their format.
const ENDINGS: &[(&str, Format)] = &[
    (".tar", Format::Tar),
    (".tar.gz", Format::Tar),
    (".tgz", Format::Tar),
    (".tar.bz2", Format::Tar),
    (".tbz2", Format::Tar),
    (".tar.xz", Format::Tar),
    (".txz", Format::Tar),
    (".zip", Format::Zip),
];

/// The format of the archive `src`, by its name.
pub fn format_of(src: &str) -> Result<Format, String> {
    let lower = src.to_ascii_lowercase();
    ENDINGS
        .iter()
        .find(|(e, _)| lower.ends_with(e))
        .map(|(_, f)| *f)
        .ok_or_else(|| {
            format!(
                "src `{src}`: the archive's name must end in {} (its format is told by its name)",
                ENDINGS
                    .iter()
                    .map(|(e, _)| *e)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

/// One `unarchive:` entry, rendered for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnarchiveSpec {
    /// The folder it extracts into.
    pub dest: String,
    /// The archive on the host.
    pub src: String,
    pub format: Format,
    /// Extracted only while this path is missing.
    pub creates: Option<String>,
    /// DEST's owner, group and mode; the owner extracts, owner and group go to all below.
    pub attrs: Attrs,
}

impl UnarchiveSpec {
    /// The state file recording the archive's sha256 at the last extraction.
    pub fn state_file(&self) -> String {
        let (_, name) = super::deploy::split_path(&self.src);
        format!("{}/.play-unarchive-{name}", self.dest.trim_end_matches('/'))
    }
}

/// What the probe saw of one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// DEST, the recorded and the current sha256 (`installed`: DEST is a folder).
    pub deps: project_deps::Seen,
    /// The `creates` path exists (`None`: no `creates`).
    pub created: Option<bool>,
    /// The host has `unzip` (`None`: not asked).
    pub unzip: Option<bool>,
}

/// Reads a record's fields after the key.
pub fn parse_seen(fields: &[String]) -> Option<Seen> {
    let [dir, state, sum, created, unzip] = fields else {
        return None;
    };
    let yes = |f: &str| match f.trim() {
        "y" => Some(true),
        "n" => Some(false),
        _ => None,
    };
    Some(Seen {
        deps: project_deps::parse_seen(dir, state, sum),
        created: yes(created),
        unzip: yes(unzip),
    })
}

/// The probe fragment of one entry (see the module's record).
pub fn probe_fragment(spec: &UnarchiveSpec) -> String {
    let created = match &spec.creates {
        None => "printf '%s\\0' -\n".to_string(),
        Some(c) => format!(
            "if [ -e {c} ] || [ -L {c} ]; then printf 'y\\0'; else printf 'n\\0'; fi\n",
            c = shell_quote(c)
        ),
    };
    let unzip = match spec.format {
        Format::Zip => {
            "if command -v unzip >/dev/null 2>&1; then printf 'y\\0'; else printf 'n\\0'; fi\n"
        }
        Format::Tar => "printf '%s\\0' -\n",
    };
    format!(
        "printf 'unarch\\0%s\\0' {q}\n{fields}{created}{unzip}",
        q = shell_quote(&spec.dest),
        fields = project_deps::probe_fields(
            &spec.dest,
            &spec.state_file(),
            std::slice::from_ref(&spec.src)
        ),
    )
}

/// What apply does: extract the archive (then, without `creates`, record its sha256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extract;

/// Plans one entry from what the probe saw; `changed`: keys of the host's resources changing
/// before it in this run (the archive, or a folder holding it, among them: known only after
/// that step, so extracted).
pub fn plan(
    spec: &UnarchiveSpec,
    seen: &Seen,
    changed: &[&str],
) -> Result<Option<Planned<Extract>>, Refused> {
    use super::tree::{is_under, normalize};
    let src = normalize(&spec.src);
    let moved = changed
        .iter()
        .find(|k| k.starts_with('/') && (normalize(k) == src || is_under(&src, k)));
    let action = if seen.deps.installed {
        Action::Update
    } else {
        Action::Create
    };
    let planned = |why: String| {
        Ok(Some(Planned {
            action,
            details: vec![why],
            work: Extract,
        }))
    };
    if seen.created == Some(true) {
        return Ok(None);
    }
    if let Some(k) = moved {
        return planned(format!("{k} changes before it"));
    }
    if seen.deps.sum.is_none() {
        return Err(Refused(format!(
            "{}: no such archive on the host (unarchive: extracts a file already there; `download:` it first)",
            spec.src
        )));
    }
    if spec.format == Format::Zip && seen.unzip == Some(false) && !changed.contains(&"unzip") {
        return Err(Refused(format!(
            "{}: a zip, and the host has no `unzip` (declare `package: unzip` before it)",
            spec.src
        )));
    }
    if let Some(c) = &spec.creates {
        return planned(format!("{c} does not exist"));
    }
    if !seen.deps.installed {
        return planned(format!("no {} yet", spec.dest));
    }
    match &seen.deps.recorded {
        None => planned("no record of the last extraction".into()),
        Some(r) if Some(r) != seen.deps.sum.as_ref() => planned(format!(
            "{} changed since the last extraction",
            super::deploy::split_path(&spec.src).1
        )),
        Some(_) => Ok(None),
    }
}

/// Shell text checking, from inside DEST, that no one but root (or the login) can write in it:
/// no folder below it of another user or writable by group or others (links are not followed).
const LOCKED_TREE: &str = "play_locked_dir && [ -z \"$(find -P . -type d \\( ! -user \"$play_uid\" -o -perm /022 \\) -print -quit)\" ]";

/// The apply step of one entry.
pub fn apply_fragment(index: usize, spec: &UnarchiveSpec) -> String {
    let i = index;
    let dest = shell_quote(&spec.dest);
    let mut s = format!(
        "# unarchive {}\nprintf '\\0play-step\\0%s\\0' {i} >&2\n",
        spec.dest
    );
    if let Some(c) = &spec.creates {
        s.push_str(&format!(
            "if [ -e {c} ] || [ -L {c} ]; then :; else\n",
            c = shell_quote(c)
        ));
    }
    // DEST made when missing, with its owner, group and mode (the owner then writes in it)
    s.push_str(&crate::apply::folder(i, &spec.dest, &spec.attrs));
    s.push_str(&format!("play_enter {dest} || play_fail {i}\n"));
    let owner = spec.attrs.owner.as_deref();
    let archive = match owner {
        // the user reads the archive with their own rights
        Some(_) => shell_quote(&spec.src),
        None => {
            let (dir, name) = super::deploy::split_path(&spec.src);
            let (q, d, n) = (
                shell_quote(&spec.src),
                shell_quote(&dir),
                shell_quote(&format!("./{name}")),
            );
            s.push_str(&format!(
                "{LOCKED_TREE} || {{ printf '%s: a folder below it belongs to another user or others can write it; give `owner:` to extract as that user\\n' {dest} >&2; play_fail {i}; }}\n"
            ));
            s.push_str(&format!(
                "play_tmp {} || play_fail {i}\n",
                shell_quote(&format!("{}XXXXXX", crate::apply::temp_prefix(&spec.dest)))
            ));
            // root reads the archive never through a link
            s.push_str(&format!(
                "( play_enter {d} || exit 1
  if [ -L {n} ] || ! [ -f {n} ]; then printf '%s: not a regular file (missing, or a link); nothing extracted\\n' {q} >&2; exit 1; fi
  dd if={n} iflag=nofollow,nonblock bs=64k status=none > \"$t\"
) || {{ rm -f -- \"$t\"; play_fail {i}; }}
"
            ));
            "\"$t\"".to_string()
        }
    };
    let run = match (spec.format, owner) {
        (Format::Tar, Some(_)) => format!("tar -x --no-same-owner -f {archive}"),
        (Format::Tar, None) => {
            format!("tar -x --no-same-owner --no-same-permissions -f {archive}")
        }
        (Format::Zip, _) => format!("unzip -o -q {archive}"),
    };
    s.push_str(&format!(
        "(umask 022 && play_as {u} {run}) </dev/null 1>&2 || {{ {rm}play_fail {i}; }}\n",
        u = shell_quote(owner.unwrap_or_default()),
        rm = if owner.is_none() {
            "rm -f -- \"$t\"; "
        } else {
            ""
        },
    ));
    if owner.is_none() && spec.creates.is_none() {
        // the sum of the copy extracted
        s.push_str(&format!(
            "rs=$(sha256sum < \"$t\") || play_fail {i}\nrs=${{rs%% *}}\n"
        ));
    }
    if owner.is_none() {
        s.push_str("rm -f -- \"$t\"; t=\n");
    }
    if owner.is_some() || spec.attrs.group.is_some() {
        s.push_str(&crate::apply::folder_tree(
            i,
            &spec.dest,
            (owner, spec.attrs.group.as_deref()),
            None,
        ));
    }
    if spec.creates.is_none() {
        if owner.is_some() {
            // the sum of what was extracted (read as the owner, as it extracted)
            s.push_str(&project_deps::sum_of_first(
                std::slice::from_ref(&spec.src),
                &format!("play_fail {i}"),
                owner,
            ));
        }
        s.push_str(&project_deps::state_step(
            i,
            &spec.state_file(),
            "printf 'sha256 %s\\n' \"$rs\"",
        ));
    }
    if spec.creates.is_some() {
        s.push_str("fi\n");
    }
    s.push_str(&format!("play_ok {i}\n"));
    s
}

impl super::Spec for UnarchiveSpec {
    type Work = Extract;
    fn add_probe(&self, p: &mut super::deploy::DeployProbe) {
        p.add_fragment(probe_fragment(self));
    }
    fn plan_work(
        &self,
        observed: &super::Observed,
        changed: &[&str],
    ) -> Result<Option<Planned<Self::Work>>, Refused> {
        let seen = observed
            .deploy
            .record("unarch", &self.dest)
            .and_then(parse_seen)
            .ok_or_else(|| super::deploy::not_probed("the archive"))?;
        plan(self, &seen, changed)
    }
    fn apply_fragment(
        &self,
        index: usize,
        work: Option<&Self::Work>,
        _last: bool,
    ) -> Option<Result<(String, Vec<u8>), String>> {
        work.map(|_| Ok((apply_fragment(index, self), Vec::new())))
    }
    fn depends(&self, observed: &super::Observed, out: &mut super::Prints) {
        if let Some(s) = observed.deploy.record("unarch", &self.dest) {
            out.insert(format!("unarchive {}", self.dest), format!("{s:?}"));
        }
    }
    fn accounts(&self) -> Vec<(super::accounts::Account, &str)> {
        super::accounts::pair(&self.attrs.owner, &self.attrs.group)
    }
    fn owned_paths(&self) -> Vec<String> {
        vec![super::tree::normalize(&self.state_file())]
    }
    fn written(&self) -> Option<&str> {
        Some(&self.dest)
    }
    fn creates(&self) -> Option<&str> {
        self.creates.as_deref()
    }
    fn reads(&self) -> Option<&str> {
        Some(&self.src)
    }
    const DEF: &'static super::registry::KindDef = &DEF;
    fn key(&self) -> &str {
        &self.dest
    }
    fn has_nul(&self) -> bool {
        super::any_nul(&[Some(&self.dest), Some(&self.src), self.creates.as_deref()])
            || self.attrs.has_nul()
    }
}

/// The registry line of `unarchive:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Unarchive,
    name: "unarchive",
    keys: &[
        Key::Text("src"),
        Key::Text("creates"),
        Key::Text("owner"),
        Key::Text("group"),
        Key::Any("mode"),
    ],
    // DEST is often another resource's folder (a `directory:` with its owner): the extraction
    // owns its state file (`owned_paths`)
    is_path: false,
    watchable: true,
    docs_section: "`unarchive: DEST` — an archive on the host, extracted",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key: super::registry::path_key,
    render: super::registry::Render::Fn(from_entry),
    check_value,
    records: &[super::registry::Record {
        tag: "unarch",
        fields: 6,
        per_host: false,
    }],
    check_entry,
};

/// A literal `src`: a name whose format play can tell (the importer asks it).
fn check_value(key: &str, value: &str) -> Result<(), String> {
    match key {
        "src" => format_of(value).map(|_| ()),
        _ => Ok(()),
    }
}

/// An entry needs its archive.
fn check_entry(entry: &crate::playbook::RawResource) -> Result<(), String> {
    if entry.has("src") {
        Ok(())
    } else {
        Err("an unarchive needs `src:` (the archive on the host)".into())
    }
}

/// The spec of an `unarchive:` entry, its errors located at their keys (the registry line's
/// `render`).
pub fn from_entry(k: &Keys, b: Base) -> Result<super::Desired, ResolveError> {
    let Base { key, attrs, state } = b;
    if k.presence(&state)? == Presence::Absent {
        return Err(k.fail(
            "state",
            "an unarchive has no `state: absent` (remove DEST with `directory: … state: absent`)"
                .into(),
        ));
    }
    let src = k
        .path("src")?
        .ok_or_else(|| k.fail("src", "src: the archive on the host".into()))?;
    let format = format_of(&src).map_err(|m| k.fail("src", m))?;
    Ok(super::Desired::Unarchive(UnarchiveSpec {
        dest: key.trim_end_matches('/').to_string(),
        src,
        format,
        creates: k.path("creates")?,
        attrs,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(src: &str) -> UnarchiveSpec {
        UnarchiveSpec {
            dest: "/srv/app".into(),
            src: src.into(),
            format: format_of(src).unwrap(),
            creates: None,
            attrs: Attrs::default(),
        }
    }

    fn seen(dir: &str, state: &str, sum: &str, created: &str, unzip: &str) -> Seen {
        parse_seen(&[dir, state, sum, created, unzip].map(String::from)).unwrap()
    }

    #[test]
    fn formats_are_told_by_the_name() {
        assert_eq!(format_of("/a/x.tar.gz"), Ok(Format::Tar));
        assert_eq!(format_of("/a/x.TGZ"), Ok(Format::Tar));
        assert_eq!(format_of("/a/x.tar.xz"), Ok(Format::Tar));
        assert_eq!(format_of("/a/x.zip"), Ok(Format::Zip));
        let e = format_of("/a/x.rar").unwrap_err();
        assert!(e.contains("must end in .tar, .tar.gz"), "{e}");
    }

    #[test]
    fn the_recorded_sum_decides() {
        let s = spec("/srv/app.tgz");
        let p = |seen: &Seen, changed: &[&str]| {
            plan(&s, seen, changed).map(|p| p.map(|p| (p.action, p.details)))
        };
        let same = seen("d", "sha256 ab\n", "ab", "-", "-");
        assert_eq!(p(&same, &[]), Ok(None));
        assert_eq!(p(&same, &["/srv/other"]), Ok(None));
        assert_eq!(
            p(&same, &["/srv/app.tgz"]),
            Ok(Some((
                Action::Update,
                vec!["/srv/app.tgz changes before it".into()]
            )))
        );
        assert_eq!(
            p(&seen("d", "sha256 ab\n", "cd", "-", "-"), &[]),
            Ok(Some((
                Action::Update,
                vec!["app.tgz changed since the last extraction".into()]
            )))
        );
        assert_eq!(
            p(&seen("-", "", "ab", "-", "-"), &[]),
            Ok(Some((Action::Create, vec!["no /srv/app yet".into()])))
        );
        assert!(p(&seen("d", "", "ab", "-", "-"), &[]).unwrap().is_some());
        let gone = p(&seen("d", "sha256 ab\n", "missing", "-", "-"), &[]);
        assert!(gone.unwrap_err().0.contains("no such archive"));
        // missing now, written by an earlier step: known after it
        assert!(p(&seen("-", "", "missing", "-", "-"), &["/srv"])
            .unwrap()
            .is_some());
    }

    #[test]
    fn creates_decides_alone() {
        let mut s = spec("/srv/app.zip");
        s.creates = Some("/srv/app/bundle".into());
        assert_eq!(plan(&s, &seen("d", "", "ab", "y", "y"), &[]), Ok(None));
        let p = plan(&s, &seen("d", "", "ab", "n", "y"), &[])
            .unwrap()
            .unwrap();
        assert_eq!(
            p.details,
            vec!["/srv/app/bundle does not exist".to_string()]
        );
        let no_unzip = plan(&s, &seen("d", "", "ab", "n", "n"), &[]).unwrap_err();
        assert!(no_unzip.0.contains("no `unzip`"), "{}", no_unzip.0);
        assert!(plan(&s, &seen("d", "", "ab", "n", "n"), &["unzip"]).is_ok());
        let f = apply_fragment(4, &s);
        assert!(
            f.contains("if [ -e /srv/app/bundle ] || [ -L /srv/app/bundle ]; then :; else\n"),
            "{f}"
        );
        assert!(!f.contains(".play-unarchive"), "{f}");
    }

    #[test]
    fn the_owner_extracts_and_root_only_into_a_locked_tree() {
        let mut s = spec("/srv/app-1.tar.gz");
        s.attrs.owner = Some("app".into());
        s.attrs.group = Some("web".into());
        let f = apply_fragment(2, &s);
        assert!(
            f.contains("(umask 022 && play_as app tar -x --no-same-owner -f /srv/app-1.tar.gz) </dev/null 1>&2 || { play_fail 2; }"),
            "{f}"
        );
        assert!(
            f.contains("chown -R -P -h -- app:web . || play_fail 2"),
            "{f}"
        );
        assert!(!f.contains("dd if="), "{f}");
        // the sum read as the owner, recorded in the state file
        assert!(f.contains("rs=$(play_as app sha256sum -- \"$f\")"), "{f}");
        assert!(f.contains("printf 'sha256 %s\\n' \"$rs\" > \"$t\""), "{f}");
        let root = apply_fragment(2, &spec("/srv/app.zip"));
        assert!(root.contains(LOCKED_TREE), "{root}");
        assert!(root.contains("dd if=./app.zip iflag=nofollow"), "{root}");
        assert!(root.contains("play_as '' unzip -o -q \"$t\""), "{root}");
        assert!(!root.contains("chown -R"), "{root}");
        let state = spec("/x/a b.tgz").state_file();
        assert_eq!(state, "/srv/app/.play-unarchive-a b.tgz");
    }

    #[test]
    fn the_probe_asks_unzip_only_for_a_zip() {
        let f = probe_fragment(&spec("/srv/app.zip"));
        assert!(f.starts_with("printf 'unarch\\0%s\\0' /srv/app\n"), "{f}");
        assert!(f.contains("command -v unzip"), "{f}");
        assert!(f.contains("cat /srv/app/.play-unarchive-app.zip"), "{f}");
        assert!(!probe_fragment(&spec("/srv/app.tar")).contains("unzip"));
    }
}
