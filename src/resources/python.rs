//! What the Python kinds share: a wanted distribution (`NAME` or `NAME==VERSION`), PEP 503
//! names, and the distributions a site folder holds, read from the names of its
//! `*.dist-info` / `*.egg-info` entries (no pip or python run: the probe lists them with shell
//! globs).

use std::collections::BTreeMap;

use crate::resolve::{Keys, ResolveError};

/// One wanted distribution: a name, and a pinned version or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub name: String,
    pub version: Option<String>,
}

impl Requirement {
    /// As pip takes it.
    pub fn spec(&self) -> String {
        match &self.version {
            Some(v) => format!("{}=={v}", self.name),
            None => self.name.clone(),
        }
    }

    /// Whether an installed version satisfies it (`None`: not installed; a bare name is
    /// satisfied by any version).
    pub fn satisfied_by(&self, installed: Option<&str>) -> bool {
        match (installed, &self.version) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(have), Some(want)) => have == want,
        }
    }
}

/// `NAME` or `NAME==VERSION` (no other specifier, URL or path); `Err`: why not, after the
/// value in backquotes (the caller names its key).
pub fn parse_requirement(s: &str) -> Result<Requirement, String> {
    let t = s.trim();
    let (name, version) = match t.split_once("==") {
        Some((n, v)) => (n.trim(), Some(v.trim())),
        None => (t, None),
    };
    let word = |w: &str| {
        !w.is_empty()
            && w.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+' | b'!'))
    };
    let name_ok = word(name)
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if !name_ok || version.is_some_and(|v| !word(v)) {
        return Err(format!("`{s}`: NAME or NAME==VERSION"));
    }
    Ok(Requirement {
        name: name.to_string(),
        version: version.map(str::to_string),
    })
}

/// A distribution name as pip compares them (PEP 503): lowercase, runs of `-_.` as `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::new();
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The distribution a site folder's entry names: `NAME-VERSION.dist-info`,
/// `NAME-VERSION[-pyX.Y].egg-info` or `NAME.egg-info` (version unknown: empty) → (PEP 503
/// name, version). `None` for other entries.
pub fn dist_of(entry: &str) -> Option<(String, String)> {
    if let Some(stem) = entry.strip_suffix(".dist-info") {
        let (n, v) = stem.split_once('-')?;
        return Some((normalize(n), v.to_string()));
    }
    let stem = entry.strip_suffix(".egg-info")?;
    Some(match stem.split_once('-') {
        Some((n, rest)) => (
            normalize(n),
            rest.split_once("-py").map_or(rest, |(v, _)| v).to_string(),
        ),
        None => (normalize(stem), String::new()),
    })
}

/// The distributions of site-folder entry names, one a line: PEP 503 name → version.
pub fn dists(lines: &str) -> BTreeMap<String, String> {
    lines
        .lines()
        .filter_map(|l| dist_of(l.trim_end_matches('/').rsplit('/').next().unwrap_or(l)))
        .collect()
}

/// An entry's `python:` (default `python3`) and `user:` (a checked account name), errors
/// located at their keys.
pub fn interpreter_and_user(k: &Keys) -> Result<(String, Option<String>), ResolveError> {
    let user = k.string("user")?;
    if let Some(u) = &user {
        super::accounts::check_name("user", u).map_err(|m| k.fail("user", m))?;
    }
    let python = k.string("python")?.unwrap_or_else(|| "python3".into());
    if python.trim().is_empty() {
        return Err(k.fail("python", "python: an empty interpreter".into()));
    }
    Ok((python, user))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_and_names() {
        assert_eq!(
            parse_requirement("flask == 3.0.3").unwrap().spec(),
            "flask==3.0.3"
        );
        for bad in ["flask>=3", "-e .", "", "git+https://x/y", "./pkg", "a b"] {
            assert!(parse_requirement(bad).is_err(), "{bad}");
        }
        assert_eq!(normalize("Flask_SQLAlchemy"), "flask-sqlalchemy");
        assert_eq!(normalize("zope.interface"), "zope-interface");
        let r = parse_requirement("uv==0.9.9").unwrap();
        assert!(r.satisfied_by(Some("0.9.9")));
        assert!(!r.satisfied_by(Some("0.9.8")) && !r.satisfied_by(None));
        assert!(parse_requirement("uv").unwrap().satisfied_by(Some("")));
    }

    #[test]
    fn site_folder_entries() {
        assert_eq!(
            dist_of("PyYAML-6.0.dist-info"),
            Some(("pyyaml".into(), "6.0".into()))
        );
        assert_eq!(
            dist_of("lazr.restfulclient-0.14.5.egg-info"),
            Some(("lazr-restfulclient".into(), "0.14.5".into()))
        );
        assert_eq!(
            dist_of("zope.interface-5.5.2-py3.11.egg-info"),
            Some(("zope-interface".into(), "5.5.2".into()))
        );
        assert_eq!(
            dist_of("cryptography.egg-info"),
            Some(("cryptography".into(), String::new()))
        );
        assert_eq!(dist_of("yaml"), None);
        let d = dists(
            "/usr/lib/python3/dist-packages/requests-2.28.1.egg-info\nFlask-3.0.3.dist-info/\n",
        );
        assert_eq!(d["requests"], "2.28.1");
        assert_eq!(d["flask"], "3.0.3");
    }
}
