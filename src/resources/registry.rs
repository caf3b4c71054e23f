//! The registry of resource kinds: one line per kind, each line a [`KindDef`] defined in the
//! kind's own file. It is the single source of a kind's name, of the keys a playbook entry of
//! that kind accepts and of what each key's value is as written (`playbook::RawResource` reads
//! an entry's keys from them, its "does not apply" errors list them; a test checks each is
//! documented in docs/playbooks.md), of
//! whether its key is a host path and how a key is checked (resolve), of whether
//! `restart_on`, `reload_on` and `on_change` may watch it, of what the first probe asks for it
//! (`probe::Wants`), of how resolve builds its spec from an entry ([`Render`]), and of the
//! probe records it owns ([`Record`]). With [`super::Spec`] it is the contract a kind implements: the rest of the
//! program reaches a kind through them (docs/adding-a-kind.md says which kinds are not moved
//! behind it yet; `tests/kinds.rs` counts the files that name each kind).

use super::Kind;

/// What the registry knows of one kind.
#[derive(Debug, Clone, Copy)]
pub struct KindDef {
    pub kind: Kind,
    /// As written in playbooks (`file:`).
    pub name: &'static str,
    /// The keys an entry of this kind accepts besides its own name and the keys every
    /// resource has ([`COMMON_KEYS`]), each with what its value is as written: the playbook
    /// reads an entry's keys from them (`playbook::RawResource`), its errors list them.
    pub keys: &'static [Key],
    /// Its key is a path on the host (the others are names, or a command line).
    pub is_path: bool,
    /// `restart_on`, `reload_on` and `on_change` may name it (all but the processes).
    pub watchable: bool,
    /// The title of its section in docs/playbooks.md.
    pub docs_section: &'static str,
    /// Which of today's three plug-in paths it takes.
    pub plug: Plug,
    /// What the host's first probe (before facts, before rendering) asks for it.
    pub first_probe: FirstProbe,
    /// Checks its rendered key, giving the key the resource has (a service's unit name gets
    /// its `.service`, a package loses its `=VERSION`); `Err`: the message, located by resolve.
    pub check_key: fn(&str) -> Result<String, String>,
    /// How resolve builds its spec from a playbook entry.
    pub render: Render,
    /// Checks the literal value of one of its keys (one item of a list key), as resolve does
    /// once rendered (the importer asks it of what it writes); `Err`: why not.
    pub check_value: fn(key: &str, value: &str) -> Result<(), String>,
    /// The probe records its probe fragment writes (`Spec::add_probe`) that no other kind
    /// reads: the probe keeps their fields (`deploy::DeployObserved::record`), the kind parses
    /// them when it plans.
    pub records: &'static [Record],
    /// Checks the shape of an entry of this kind beyond its keys (a key it needs, keys that
    /// exclude each other), as the playbook is loaded; `Err`: the message, located at the
    /// entry by `playbook`.
    pub check_entry: fn(&crate::playbook::RawResource) -> Result<(), String>,
}

/// A key of a kind's entries ([`KindDef::keys`]), with what its value is as written. A key
/// several kinds have is the same in each (a test checks it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A string (`user: www-data`); anything else is refused as the playbook loads.
    Text(&'static str),
    /// Any YAML value (a list, a mapping, a number, a boolean…), checked once rendered.
    Any(&'static str),
}

impl Key {
    /// As written in playbooks.
    pub const fn name(self) -> &'static str {
        match self {
            Key::Text(n) | Key::Any(n) => n,
        }
    }
}

impl KindDef {
    /// Whether an entry of this kind accepts `key` (besides its name and [`COMMON_KEYS`]).
    pub fn has_key(&self, key: &str) -> bool {
        self.keys.iter().any(|k| k.name() == key)
    }

    /// Its key as written: a string, or (a kind that is one resource per name it lists,
    /// [`Render::PerName`]) any value.
    pub const fn name_key(&self) -> Key {
        match self.render {
            Render::Fn(_) => Key::Text(self.name),
            Render::PerName { .. } => Key::Any(self.name),
        }
    }
}

/// Every key an entry may have besides [`COMMON_KEYS`]: kind names and the kinds' keys, the
/// first declaration of each (in the order of [`ALL`]).
pub fn entry_key(name: &str) -> Option<Key> {
    static KEYS: std::sync::LazyLock<std::collections::HashMap<&'static str, Key>> =
        std::sync::LazyLock::new(|| {
            let mut m = std::collections::HashMap::new();
            for k in ALL {
                let d = def(k);
                m.entry(d.name).or_insert(d.name_key());
                for key in d.keys {
                    m.entry(key.name()).or_insert(*key);
                }
            }
            m
        });
    KEYS.get(name).copied()
}

/// A probe record a kind owns: `TAG \0 KEY \0` and `fields - 1` more NUL-terminated fields;
/// with `per_host`, `TAG \0` and `fields` fields, no key.
#[derive(Debug, Clone, Copy)]
pub struct Record {
    pub tag: &'static str,
    /// How many fields follow the tag, the key included.
    pub fields: usize,
    /// One record answers for every resource of the kind on the host (a batched probe: one
    /// `dpkg-query` for every package): its fields have no key, and the records of a later
    /// probe of the same kind replace the earlier ones (`deploy::DeployObserved::host_record`).
    pub per_host: bool,
}

/// The kind owning the record `tag`, and its line's [`Record`].
pub fn record_of(tag: &[u8]) -> Option<(Kind, &'static Record)> {
    ALL.iter()
        .flat_map(|k| def(*k).records.iter().map(move |r| (*k, r)))
        .find(|(_, r)| r.tag.as_bytes() == tag)
}

/// How many fields follow `tag` when a kind's line owns that record.
pub fn record_fields(tag: &[u8]) -> Option<usize> {
    record_of(tag).map(|(_, r)| r.fields)
}

/// [`KindDef::check_value`] of the kinds whose values resolve checks only in context.
pub fn any_value(_key: &str, _value: &str) -> Result<(), String> {
    Ok(())
}

/// [`KindDef::check_entry`] of the kinds whose entries need no check beyond their keys.
pub fn any_entry(_entry: &crate::playbook::RawResource) -> Result<(), String> {
    Ok(())
}

/// Checks `value` of key `key` of the kind named `kind` (see [`KindDef::check_value`]); an
/// unknown kind has no checks.
pub fn check_value(kind: &str, key: &str, value: &str) -> Result<(), String> {
    match by_name(kind) {
        Some(k) => (def(k).check_value)(key, value),
        None => Ok(()),
    }
}

/// [`KindDef::render`]: how resolve builds a kind's spec from a playbook entry, once its key
/// is rendered and checked.
#[derive(Debug, Clone, Copy)]
pub enum Render {
    /// A function of the entry's keys, its errors located at them (in the kind's file; the
    /// kinds not moved there yet have theirs in `resolve`).
    Fn(RenderFn),
    /// One resource per name the entry lists (`package:`): `keys`, the names (each the key of
    /// one resource); `render`, their specs, errors located at their keys.
    PerName {
        keys: PerNameKeys,
        render: PerNameFn,
    },
}

/// See [`Render::Fn`].
pub type RenderFn = fn(
    &crate::resolve::Keys<'_>,
    crate::resolve::Base,
) -> Result<super::Desired, crate::resolve::ResolveError>;

/// See [`Render::PerName`].
pub type PerNameKeys =
    fn(&crate::resolve::Keys<'_>) -> Result<Vec<String>, crate::resolve::ResolveError>;

/// See [`Render::PerName`].
pub type PerNameFn =
    fn(&crate::resolve::Keys<'_>) -> Result<Vec<super::Desired>, crate::resolve::ResolveError>;

/// [`KindDef::check_key`] of the kinds whose key is a path on the host.
pub fn path_key(key: &str) -> Result<String, String> {
    super::tree::check_path(key).map(|_| key.to_string())
}

/// What the first probe asks for a resource known by its kind and key only (see
/// `probe::Wants::of`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstProbe {
    /// Nothing: what it needs is known once it is rendered (`probe::Wants::add_rendered`).
    Rendered,
    /// The state of its key, a path; `emptiness`: whether that folder is empty matters (a
    /// folder deleted, or replaced by a link).
    Path { emptiness: bool },
    /// supervisord's config, and the conf file where its `[include]` puts the program's.
    Supervisor,
    /// The unit file, and `systemctl show` of the unit.
    Unit,
}

/// The three plug-in paths of the contract: what the engine asks of a kind (all through `Spec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plug {
    /// A path of the host, planned from its stat (`Spec::plan_path`), its step written with
    /// `apply::Builder`'s primitives (`Spec::change_step`): `file`, `directory`, `link`.
    Path,
    /// A supervisor program or a systemd unit: a conf file plus process state, restarts.
    Process,
    /// Its own probe records, typed planned work and apply fragment (`resources::deploy`).
    Deploy,
}

/// Keys of every resource (docs/playbooks.md, "Keys of every resource").
pub const COMMON_KEYS: &[&str] = &[
    "state",
    "loop",
    "loop_var",
    "when",
    "sensitive",
    "name",
    "tags",
];

/// Kind names that are also keys of other kinds (`group:`, a certificate's `private_key:`): such
/// a name names its kind only in
/// an entry that names no other (`playbook`).
pub const KEY_FIRST: &[&str] = &["group", "private_key"];

/// The list of kinds, one line each: `Variant => module, SpecType;` (its `Kind` and `Desired`
/// variant, the module holding its `DEF` and its spec, the spec's type), in the order playbook
/// errors list them. Everything that repeats the list is generated from it: `Kind`, `Desired`
/// and `Desired`'s dispatch over every kind (`resources`), [`ALL`] and [`def`] (here), the
/// lookup of an entry's kind key (`playbook`). `kinds!(then!(ARGS))` expands to
/// `then! { (ARGS) LINE; LINE; … }`.
macro_rules! kinds {
    ($then:ident ! ($($args:tt)*)) => {
        $then! { ($($args)*)
            File => file, file::FileSpec;
            Directory => directory, directory::DirectorySpec;
            Link => link, link::LinkSpec;
            Program => program, program::ProgramSpec;
            Service => service, service::ServiceSpec;
            Git => git, git::GitSpec;
            Sync => sync, sync::SyncSpec;
            Release => release, release::ReleaseSpec;
            Package => package, package::PackageSpec;
            Command => command, command::CommandSpec;
            User => user, user::UserSpec;
            Group => group, group::GroupSpec;
            Line => line, line::LineSpec;
            Block => block, block::BlockSpec;
            Cron => cron, cron::CronSpec;
            Replace => replace, replace::ReplaceSpec;
            // fetch kinds
            Download => download, download::DownloadSpec;
            AptSource => apt_source, apt_source::AptSourceSpec;
            AptUpgrade => apt_upgrade, apt_upgrade::AptUpgradeSpec;
            Venv => venv, venv::VenvSpec;
            Npm => npm, npm::NpmSpec;
            Composer => composer, composer::ComposerSpec;
            Pip => pip, pip::PipSpec;
            Bundle => bundle, bundle::BundleSpec;
            Gem => gem, gem::GemSpec;
            Rvm => rvm, rvm::RvmSpec;
            // system settings
            Hostname => hostname, hostname::HostnameSpec;
            Timezone => timezone, timezone::TimezoneSpec;
            Ufw => ufw, ufw::UfwSpec;
            // TLS material made on the host
            PrivateKey => private_key, private_key::PrivateKeySpec;
            Dhparam => dhparam, dhparam::DhparamSpec;
            Certificate => certificate, certificate::CertificateSpec;
            Certbot => certbot, certbot::CertbotSpec;
            Csr => csr, csr::CsrSpec;
            Unarchive => unarchive, unarchive::UnarchiveSpec;
        }
    };
}
pub(crate) use kinds;

/// [`ALL`] and [`def`] from the list of [`kinds!`].
macro_rules! registry_items {
    (() $($kind:ident => $module:ident, $spec:ty;)*) => {
        /// Every kind, in the order playbook errors list them.
        pub const ALL: [Kind; [$(stringify!($kind)),*].len()] = [$(Kind::$kind),*];

        /// The registry line of `kind` (exhaustive: a new kind does not compile without its
        /// line).
        pub const fn def(kind: Kind) -> &'static KindDef {
            use super::*;
            match kind {
                $(Kind::$kind => &$module::DEF,)*
            }
        }
    };
}
kinds!(registry_items!());

/// The kind a playbook names `name`.
pub fn by_name(name: &str) -> Option<Kind> {
    ALL.into_iter().find(|k| def(*k).name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_consistent_line() {
        for (i, k) in ALL.iter().enumerate() {
            let d = def(*k);
            assert_eq!(d.kind, *k, "{} names another kind", d.name);
            assert_eq!(by_name(d.name), Some(*k));
            assert!(!ALL[..i].contains(k), "{} listed twice", d.name);
            assert!(!d.docs_section.is_empty());
            let first = match d.first_probe {
                FirstProbe::Path { .. } => Plug::Path,
                FirstProbe::Supervisor | FirstProbe::Unit => Plug::Process,
                FirstProbe::Rendered => Plug::Deploy,
            };
            assert_eq!(
                first, d.plug,
                "{}: first probe and plug-in path disagree",
                d.name
            );
            if d.is_path {
                assert!((d.check_key)("/x").is_ok(), "{}: path key", d.name);
                assert!((d.check_key)("x").is_err(), "{}: path key", d.name);
            }
            for key in d.keys {
                let name = key.name();
                assert!(!COMMON_KEYS.contains(&name), "{}: {name} is common", d.name);
                assert_eq!(
                    entry_key(name),
                    Some(*key),
                    "{}: {name} is typed otherwise",
                    d.name
                );
            }
            assert_eq!(entry_key(d.name), Some(d.name_key()), "{}", d.name);
            for r in d.records {
                assert!(
                    r.per_host || r.fields > 0,
                    "{}: {} has no key",
                    d.name,
                    r.tag
                );
                assert_eq!(record_of(r.tag.as_bytes()).map(|(k, _)| k), Some(*k));
            }
        }
    }

    #[test]
    fn values_are_checked_by_their_kind() {
        assert!(check_value("line", "regexp", "^a.*$").is_ok());
        assert!(check_value("line", "regexp", "(unclosed").is_err());
        assert!(check_value("venv", "packages", "flask==3.0").is_ok());
        assert!(check_value("venv", "packages", "not a requirement!").is_err());
        assert!(
            check_value("file", "regexp", "(unclosed").is_ok(),
            "not a key of file"
        );
        assert!(check_value("no_such_kind", "x", "y").is_ok());
    }

    /// The keys a playbook entry may have (those `playbook::RawResource` reads, as serde's
    /// "unknown field … expected one of" lists them) are exactly the registry's: kind names,
    /// their keys and the common keys.
    #[test]
    fn playbook_fields_are_the_registry_keys() {
        let err = serde_yaml::from_str::<crate::playbook::RawResource>("zz_not_a_key: 1")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        let listed = err.split_once("expected one of").map_or("", |(_, l)| l);
        let fields: std::collections::BTreeSet<&str> =
            listed.split('`').skip(1).step_by(2).collect();
        assert!(fields.len() > 20, "no field list in: {err}");
        let mut registry: std::collections::BTreeSet<&str> = COMMON_KEYS.iter().copied().collect();
        for k in ALL {
            registry.insert(def(k).name);
            registry.extend(def(k).keys.iter().map(|k| k.name()));
        }
        assert_eq!(fields, registry);
    }

    /// The text of the `### TITLE` section of a Markdown document (up to the next heading of
    /// level 2 or 3).
    fn section<'a>(doc: &'a str, title: &str) -> Option<&'a str> {
        let start = doc.find(&format!("\n### {title}\n"))? + 1;
        let body = &doc[start..];
        let body = &body[body.find('\n')? + 1..];
        let end = ["\n### ", "\n## "]
            .iter()
            .filter_map(|h| body.find(h))
            .min()
            .unwrap_or(body.len());
        Some(&body[..end])
    }

    /// Every key of the registry is documented in docs/playbooks.md, as `` `key` ``, in its
    /// kind's section or in a section of keys that several kinds share.
    #[test]
    fn every_key_is_documented() {
        let doc = include_str!("../../docs/playbooks.md");
        let every = section(doc, "Keys of every resource").unwrap_or_default();
        let paths = section(doc, "Keys of files, folders and links").unwrap_or_default();
        let mut missing = Vec::new();
        for key in COMMON_KEYS {
            if !every.contains(&format!("`{key}`")) {
                missing.push(format!("common key `{key}` (Keys of every resource)"));
            }
        }
        for k in ALL {
            let d = def(k);
            let Some(own) = section(doc, d.docs_section) else {
                missing.push(format!("{}: no section `### {}`", d.name, d.docs_section));
                continue;
            };
            for key in d.keys.iter().map(|k| k.name()) {
                let quoted = format!("`{key}`");
                let shared = [Kind::File, Kind::Directory, Kind::Link].contains(&k)
                    && paths.contains(&quoted);
                if !own.contains(&quoted) && !shared && !every.contains(&quoted) {
                    missing.push(format!("{}: key `{key}` ({})", d.name, d.docs_section));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "docs/playbooks.md lacks:\n{}",
            missing.join("\n")
        );
    }
}
