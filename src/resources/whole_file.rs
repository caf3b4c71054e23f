//! A whole file play writes with known attributes and, maybe, content: a `file:`, a program's
//! conf file, a service's unit file. Planning is a pure function of it and what the probe saw
//! at its path.
//!
//! | want \ have | missing | regular file | link | directory | other |
//! |---|---|---|---|---|---|
//! | present | Create | Update / Attrs / none | error | error | error |
//! | absent  | none   | Delete | Delete | error | error |
//!
//! A symbolic link is never silently replaced by a file (the link may be deliberate, e.g.
//! `/etc/resolv.conf`): that is a plan error.

use super::{
    attr_details, Action, Attrs, Change, Content, ContentChange, Kind, PathKind, PathState,
    PlanError, Presence,
};

/// A whole file, as the kind writing it has it.
#[derive(Debug, Clone, Copy)]
pub struct WholeFile<'a> {
    /// The kind whose change and plan errors these are.
    pub kind: Kind,
    pub path: &'a str,
    pub presence: Presence,
    /// `None` with `Present`: the file must exist, content unmanaged (created empty).
    pub content: Option<&'a Content>,
    pub attrs: &'a Attrs,
}

impl WholeFile<'_> {
    fn error(&self, message: impl Into<String>) -> PlanError {
        PlanError {
            kind: self.kind,
            key: self.path.to_string(),
            message: message.into(),
        }
    }

    /// A change of it (`attrs` set when there are `details`: a file's details are its
    /// attribute changes).
    pub fn change(
        &self,
        action: Action,
        details: Vec<String>,
        content: Option<ContentChange>,
    ) -> Change {
        Change {
            kind: self.kind,
            key: self.path.to_string(),
            action,
            // A file's details are its attribute changes (`attr_details`) only.
            attrs: !details.is_empty(),
            details,
            content,
            sensitive: false,
            index: 0,
            after: None,
            expect: None,
            files: Default::default(),
            restarts: Vec::new(),
        }
    }

    /// Its change (`Change::index` and `Change::sensitive` are filled by the caller).
    pub fn plan(&self, have: &PathState) -> Result<Option<Change>, PlanError> {
        match self.presence {
            Presence::Present => self.plan_present(have),
            Presence::Absent => match &have.kind {
                PathKind::Missing => Ok(None),
                PathKind::File { .. } | PathKind::Link { .. } => {
                    Ok(Some(self.change(Action::Delete, Vec::new(), None)))
                }
                PathKind::Directory { .. } => Err(self.error(
                    "is a directory; a file resource will not delete it (use `directory: … state: absent`)",
                )),
                PathKind::Other(what) => {
                    Err(self.error(format!("a {what} stands there, not a file")))
                }
            },
        }
    }

    fn plan_present(&self, have: &PathState) -> Result<Option<Change>, PlanError> {
        match &have.kind {
            PathKind::Missing => {
                let content = self.content.map(|c| ContentChange {
                    path: self.path.to_string(),
                    old: None,
                    old_sha256: None,
                    old_size: None,
                    old_unread: None,
                    new: c.bytes.clone(),
                    new_sha256: c.sha256(),
                });
                Ok(Some(self.change(Action::Create, Vec::new(), content)))
            }
            PathKind::File { size, sha256 } => {
                let details = attr_details(self.attrs, have);
                if let Some(c) = self.content {
                    let new_sha256 = c.sha256();
                    if sha256.as_deref() != Some(new_sha256.as_str()) {
                        let content = ContentChange {
                            path: self.path.to_string(),
                            old: None,
                            old_sha256: sha256.clone(),
                            old_size: Some(*size),
                            old_unread: None,
                            new: c.bytes.clone(),
                            new_sha256,
                        };
                        return Ok(Some(self.change(Action::Update, details, Some(content))));
                    }
                }
                if details.is_empty() {
                    Ok(None)
                } else {
                    Ok(Some(self.change(Action::Attrs, details, None)))
                }
            }
            PathKind::Directory { .. } => {
                Err(self.error("is a directory; a file cannot replace it"))
            }
            PathKind::Link { target } => Err(self.error(format!(
                "is a symbolic link (→ {target}); a file will not replace it (remove the link first)"
            ))),
            PathKind::Other(what) => Err(self.error(format!(
                "a {what} stands there; a file cannot replace it"
            ))),
        }
    }
}
