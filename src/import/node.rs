//! Ansible YAML read with positions: every node keeps its 1-based line and column, and plain
//! scalars are typed as YAML 1.1 (Ansible's dialect: `yes`/`no`/`on`/`off` are booleans).

use std::collections::HashMap;
use std::path::Path;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::ImportError;
use crate::yaml::{Mapping, Value};

/// A YAML node with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub line: usize,
    pub column: usize,
    pub kind: NodeKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A scalar; `plain` when written without quotes or block style (then typed on use).
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    /// Keys are scalars' text (Ansible files use string keys).
    Map(Vec<(String, Node)>),
}

impl Node {
    /// The value of `key` when the node is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The entries of a mapping (empty otherwise).
    pub fn entries(&self) -> &[(String, Node)] {
        match &self.kind {
            NodeKind::Map(m) => m,
            _ => &[],
        }
    }

    /// The items of a sequence (empty otherwise).
    pub fn items(&self) -> &[Node] {
        match &self.kind {
            NodeKind::Seq(s) => s,
            _ => &[],
        }
    }

    /// A scalar's text (numbers and booleans as written).
    pub fn text(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.to_value(), Value::Null)
    }

    /// The node as a YAML value, plain scalars typed as YAML 1.1 does.
    pub fn to_value(&self) -> Value {
        match &self.kind {
            NodeKind::Scalar { text, plain: false } => Value::String(text.clone()),
            NodeKind::Scalar { text, plain: true } => plain_scalar(text),
            NodeKind::Seq(items) => Value::Sequence(items.iter().map(Node::to_value).collect()),
            NodeKind::Map(entries) => {
                let mut m = Mapping::new();
                for (k, v) in entries {
                    m.insert(Value::String(k.clone()), v.to_value());
                }
                Value::Mapping(m)
            }
        }
    }

    /// The node's text when it is a scalar, a boolean as `true`/`false`.
    pub fn as_string(&self) -> Option<String> {
        match self.to_value() {
            Value::String(s) => Some(s),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// The node as a boolean (YAML 1.1 words, and the strings Ansible accepts).
    pub fn as_bool(&self) -> Option<bool> {
        match self.to_value() {
            Value::Bool(b) => Some(b),
            Value::String(s) => yaml11_bool(&s),
            Value::Number(n) => n.as_i64().map(|i| i != 0),
            _ => None,
        }
    }
}

/// `yes`/`no`/`true`/`false`/`on`/`off` (any case; `y`/`n` too, as YAML 1.1 and Ansible do).
pub fn yaml11_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "y" => Some(true),
        "no" | "false" | "off" | "n" => Some(false),
        _ => None,
    }
}

/// A plain scalar typed as YAML 1.1: null, booleans (`yes`/`no`/`on`/`off`...), integers,
/// floats; anything else a string. Integers with a leading 0 stay strings (modes: `0644`).
pub fn plain_scalar(text: &str) -> Value {
    let t = text.trim();
    if t.is_empty() || t == "~" || t.eq_ignore_ascii_case("null") {
        return Value::Null;
    }
    if matches!(
        t.to_ascii_lowercase().as_str(),
        "yes" | "true" | "on" | "no" | "false" | "off"
    ) {
        return Value::Bool(yaml11_bool(t).unwrap_or(false));
    }
    let digits = t.strip_prefix('-').unwrap_or(t);
    if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
        if digits.len() > 1 && digits.starts_with('0') {
            return Value::String(t.to_string());
        }
        if let Ok(i) = t.parse::<i64>() {
            return Value::Number(i.into());
        }
    }
    if t.contains('.')
        && t.chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
    {
        if let Ok(f) = t.parse::<f64>() {
            if t.matches('.').count() == 1 {
                return Value::Number(f.into());
            }
        }
    }
    Value::String(text.to_string())
}

enum Frame {
    Seq(Vec<Node>, (usize, usize), usize),
    Map(Vec<(String, Node)>, Option<String>, (usize, usize), usize),
}

#[derive(Default)]
struct Recv {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    done: Option<Node>,
    docs: usize,
}

impl Recv {
    fn push(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            Some(Frame::Seq(items, ..)) => items.push(node),
            Some(Frame::Map(entries, key, start, _)) => match key.take() {
                Some(k) => entries.push((k, node)),
                None => {
                    if entries.is_empty() {
                        *start = (node.line, node.column);
                    }
                    *key = Some(match &node.kind {
                        NodeKind::Scalar { text, .. } => text.clone(),
                        _ => String::from("?"),
                    })
                }
            },
            None => {
                if self.done.is_none() {
                    self.done = Some(node);
                }
            }
        }
    }
}

impl MarkedEventReceiver for Recv {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = (mark.line().max(1), mark.col() + 1);
        match ev {
            Event::DocumentStart => self.docs += 1,
            Event::Scalar(text, style, anchor, _) => {
                let node = Node {
                    line: pos.0,
                    column: pos.1,
                    kind: NodeKind::Scalar {
                        text,
                        plain: style == TScalarStyle::Plain,
                    },
                };
                self.push(node, anchor);
            }
            Event::Alias(id) => {
                let mut node = self.anchors.get(&id).cloned().unwrap_or(Node {
                    line: pos.0,
                    column: pos.1,
                    kind: NodeKind::Scalar {
                        text: String::new(),
                        plain: true,
                    },
                });
                node.line = pos.0;
                node.column = pos.1;
                self.push(node, 0);
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq(Vec::new(), pos, anchor)),
            Event::MappingStart(anchor, _) => {
                self.stack.push(Frame::Map(Vec::new(), None, pos, anchor))
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq(items, p, anchor)) = self.stack.pop() {
                    let node = Node {
                        line: items.first().map(|n| n.line).unwrap_or(p.0),
                        column: items.first().map(|n| n.column).unwrap_or(p.1),
                        kind: NodeKind::Seq(items),
                    };
                    self.push(node, anchor);
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map(entries, _, p, anchor)) = self.stack.pop() {
                    let node = Node {
                        line: p.0,
                        column: p.1,
                        kind: NodeKind::Map(entries),
                    };
                    self.push(node, anchor);
                }
            }
            _ => {}
        }
    }
}

/// Parses the first document of `text` (the content of `file`); an empty document is a null
/// scalar.
pub fn parse(file: &Path, text: &str) -> Result<Node, ImportError> {
    let mut recv = Recv::default();
    let mut parser = Parser::new_from_str(text);
    parser
        .load(&mut recv, false)
        .map_err(|e| ImportError::Yaml {
            file: file.to_path_buf(),
            line: e.marker().line().max(1),
            column: e.marker().col() + 1,
            message: e.info().to_string(),
        })?;
    Ok(recv.done.unwrap_or(Node {
        line: 1,
        column: 1,
        kind: NodeKind::Scalar {
            text: String::new(),
            plain: true,
        },
    }))
}

/// Reads and parses a file.
pub fn read(file: &Path) -> Result<Node, ImportError> {
    let text = std::fs::read_to_string(file).map_err(|e| ImportError::Io {
        path: file.to_path_buf(),
        message: e.to_string(),
    })?;
    parse(file, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml11_booleans_and_positions() {
        let n = parse(
            Path::new("t.yml"),
            "- name: x\n  become: yes\n  mode: 0644\n  q: 'no'\n  n: 3\n",
        )
        .unwrap();
        let task = &n.items()[0];
        assert_eq!(task.line, 1);
        assert_eq!(task.get("become").unwrap().to_value(), Value::Bool(true));
        assert_eq!(
            task.get("mode").unwrap().to_value(),
            Value::String("0644".into())
        );
        assert_eq!(
            task.get("q").unwrap().to_value(),
            Value::String("no".into())
        );
        assert_eq!(task.get("n").unwrap().to_value(), Value::Number(3.into()));
        assert_eq!(task.get("become").unwrap().line, 2);
    }

    #[test]
    fn syntax_error_is_located() {
        let e = parse(Path::new("bad.yml"), "a: [1, 2\nb: c\n").unwrap_err();
        assert!(e.to_string().starts_with("bad.yml:"), "{e}");
    }
}
