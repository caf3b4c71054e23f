//! The one YAML module: everything that parses YAML goes through here, so the parser
//! (serde_yaml today, archived upstream) can be swapped without touching the rest.
//!
//! Errors carry the file, line and column, and unknown keys get a "did you mean" suggestion.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// A YAML value (mappings keep their order).
pub type Value = serde_yaml::Value;
/// A YAML mapping.
pub type Mapping = serde_yaml::Mapping;

/// A position in a source file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// A YAML file that could not be read or did not have the expected shape.
#[derive(Debug, Clone, thiserror::Error)]
pub struct YamlError {
    pub file: PathBuf,
    /// 1-based line and column when known.
    pub position: Option<(usize, usize)>,
    pub message: String,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((l, c)) => write!(f, "{}:{}:{}: {}", self.file.display(), l, c, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl YamlError {
    pub fn new(file: &Path, position: Option<(usize, usize)>, message: impl Into<String>) -> Self {
        YamlError {
            file: file.to_path_buf(),
            position,
            message: message.into(),
        }
    }
}

/// Parses `text` (the content of `file`) into `T`. Plain scalars spelled as YAML 1.1
/// booleans (`yes`, `no`, `on`, `off`, `true`, `false`, any case) are booleans, as Ansible reads
/// them; quoted ones stay strings, and so do mapping keys.
pub fn from_str<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, YamlError> {
    let (text, shifts) = yaml11_booleans(text);
    let text = text.as_ref();
    serde_yaml::from_str(text).map_err(|e| {
        let mut err = convert(file, e);
        if let Some((line, column)) = err.position {
            err.position = Some((line, unshift(&shifts, line, column)));
        }
        if err.message == REPETITION_LIMIT {
            // serde_yaml gives no position for this one: find the alias that blows up.
            let bomb = alias_bomb(text);
            err.position = bomb.map(|b| b.position);
            err.message = match bomb {
                Some(b) => format!(
                    "too many alias expansions (YAML alias bomb?): this alias expands to {} \
                     nodes",
                    if b.nodes == u64::MAX {
                        "more than 18446744073709551615".to_string()
                    } else {
                        b.nodes.to_string()
                    }
                ),
                None => "too many alias expansions (YAML alias bomb?)".to_string(),
            };
        }
        err
    })
}

/// The boolean a YAML 1.1 (Ansible) boolean word stands for: `yes`/`on`/`true` and
/// `no`/`off`/`false`, in any case.
pub fn yaml11_bool(word: &str) -> Option<bool> {
    if ["yes", "on", "true"]
        .iter()
        .any(|w| w.eq_ignore_ascii_case(word))
    {
        Some(true)
    } else if ["no", "off", "false"]
        .iter()
        .any(|w| w.eq_ignore_ascii_case(word))
    {
        Some(false)
    } else {
        None
    }
}

/// A YAML 1.1 boolean rewritten as `true`/`false`: where it stands in the rewritten text (line,
/// 1-based column just after it) and how many characters longer it got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shift {
    line: usize,
    end_column: usize,
    delta: isize,
}

/// A column of the rewritten text as a column of the source.
fn unshift(shifts: &[Shift], line: usize, column: usize) -> usize {
    let delta: isize = shifts
        .iter()
        .filter(|s| s.line == line && s.end_column <= column)
        .map(|s| s.delta)
        .sum();
    column.saturating_add_signed(-delta).max(1)
}

/// `text` with every plain, untagged scalar in value position that is a YAML 1.1 boolean
/// spelled other than `true`/`false` rewritten as `true`/`false` (serde_yaml reads YAML 1.2,
/// where `yes` is a string), and where the rewrites moved columns.
fn yaml11_booleans(text: &str) -> (std::borrow::Cow<'_, str>, Vec<Shift>) {
    use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
    use yaml_rust2::scanner::{Marker, TScalarStyle};

    #[derive(Default)]
    struct Recv {
        /// Open collections: `Some(next is a key)` for mappings, `None` for sequences.
        stack: Vec<Option<bool>>,
        /// (char index, char length, line, column, value) of the scalars to rewrite.
        found: Vec<(usize, usize, usize, usize, bool)>,
    }
    impl Recv {
        /// A node starts: whether it is a mapping key.
        fn is_key(&mut self) -> bool {
            match self.stack.last_mut() {
                Some(Some(key_next)) => {
                    let was = *key_next;
                    *key_next = !was;
                    was
                }
                _ => false,
            }
        }
    }
    impl MarkedEventReceiver for Recv {
        fn on_event(&mut self, ev: Event, mark: Marker) {
            match ev {
                Event::Scalar(value, style, _, tag) => {
                    let key = self.is_key();
                    if key || style != TScalarStyle::Plain || tag.is_some() {
                        return;
                    }
                    if value == "true" || value == "false" {
                        return;
                    }
                    if let Some(b) = yaml11_bool(&value) {
                        let len = value.chars().count();
                        self.found
                            .push((mark.index(), len, mark.line().max(1), mark.col() + 1, b));
                    }
                }
                Event::Alias(_) => {
                    self.is_key();
                }
                Event::SequenceStart(..) => {
                    self.is_key();
                    self.stack.push(None);
                }
                Event::MappingStart(..) => {
                    self.is_key();
                    self.stack.push(Some(true));
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    self.stack.pop();
                }
                _ => {}
            }
        }
    }
    let mut r = Recv::default();
    // A syntax error is reported by the typed parse; what was read so far is rewritten.
    let _ = Parser::new_from_str(text).load(&mut r, true);
    if r.found.is_empty() {
        return (std::borrow::Cow::Borrowed(text), Vec::new());
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 4 * r.found.len());
    let mut shifts = Vec::new();
    let mut next = 0;
    // Columns already moved on the current line by earlier rewrites.
    let (mut line_moved, mut moved) = (0usize, 0isize);
    for (index, len, line, column, b) in r.found {
        let Some(source) = chars.get(index..index + len) else {
            continue;
        };
        // Only where the parser's mark is the word itself (it always is for a plain scalar).
        if index < next || yaml11_bool(&source.iter().collect::<String>()) != Some(b) {
            continue;
        }
        out.extend(&chars[next..index]);
        let word = if b { "true" } else { "false" };
        if line_moved != line {
            (line_moved, moved) = (line, 0);
        }
        shifts.push(Shift {
            line,
            end_column: column.saturating_add_signed(moved) + word.len(),
            delta: word.len() as isize - len as isize,
        });
        moved += word.len() as isize - len as isize;
        out.push_str(word);
        next = index + len;
    }
    out.extend(&chars[next.min(chars.len())..]);
    (std::borrow::Cow::Owned(out), shifts)
}

/// serde_yaml's message when aliases expand to too many nodes (a "billion laughs" document).
const REPETITION_LIMIT: &str = "repetition limit exceeded";

/// The alias of a document that expands to the most nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AliasBomb {
    /// 1-based line and column of the alias.
    pub position: (usize, usize),
    /// Nodes the alias stands for once expanded (saturating).
    pub nodes: u64,
}

/// The alias of `text` that expands to the most nodes (aliases inside anchored nodes counted
/// expanded), from the parser's events: nothing is expanded. None without aliases.
pub fn alias_bomb(text: &str) -> Option<AliasBomb> {
    use std::collections::HashMap;
    use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
    use yaml_rust2::scanner::Marker;

    #[derive(Default)]
    struct Recv {
        /// Expanded size of each anchor, by anchor id.
        sizes: HashMap<usize, u64>,
        /// Open collections: (anchor id, nodes so far).
        open: Vec<(usize, u64)>,
        worst: Option<AliasBomb>,
    }
    impl Recv {
        fn add(&mut self, nodes: u64) {
            if let Some(top) = self.open.last_mut() {
                top.1 = top.1.saturating_add(nodes);
            }
        }
    }
    impl MarkedEventReceiver for Recv {
        fn on_event(&mut self, ev: Event, mark: Marker) {
            match ev {
                Event::Scalar(_, _, anchor, _) => {
                    if anchor > 0 {
                        self.sizes.insert(anchor, 1);
                    }
                    self.add(1);
                }
                Event::Alias(anchor) => {
                    let nodes = self.sizes.get(&anchor).copied().unwrap_or(1);
                    if self.worst.is_none_or(|w| nodes > w.nodes) {
                        self.worst = Some(AliasBomb {
                            position: (mark.line().max(1), mark.col() + 1),
                            nodes,
                        });
                    }
                    self.add(nodes);
                }
                Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                    self.open.push((anchor, 1));
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    if let Some((anchor, nodes)) = self.open.pop() {
                        if anchor > 0 {
                            self.sizes.insert(anchor, nodes);
                        }
                        self.add(nodes);
                    }
                }
                _ => {}
            }
        }
    }
    let mut r = Recv::default();
    // A syntax error ends the scan: what was read so far still counts.
    let _ = Parser::new_from_str(text).load(&mut r, true);
    r.worst
}

/// Reads and parses a YAML file.
pub fn from_file<T: DeserializeOwned>(file: &Path) -> Result<T, YamlError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| YamlError::new(file, None, format!("cannot read: {e}")))?;
    from_str(file, &text)
}

/// Turns a parsed [`Value`] into `T` (no position information is available then).
pub fn from_value<T: DeserializeOwned>(file: &Path, value: Value) -> Result<T, YamlError> {
    serde_yaml::from_value(value).map_err(|e| convert(file, e))
}

/// Serializes a value as YAML.
pub fn to_string<T: serde::Serialize>(value: &T) -> String {
    serde_yaml::to_string(value).unwrap_or_else(|e| format!("# cannot serialize: {e}\n"))
}

fn convert(file: &Path, err: serde_yaml::Error) -> YamlError {
    let position = err.location().map(|l| (l.line(), l.column()));
    let mut message = err.to_string();
    // serde_yaml appends " at line X column Y"; we print the position up front instead.
    if let Some(idx) = message.find(" at line ") {
        message.truncate(idx);
    }
    YamlError {
        file: file.to_path_buf(),
        position,
        message: improve_message(&message),
    }
}

/// Rewrites serde's "unknown field `x`, expected one of ..." into a message with a suggestion.
fn improve_message(message: &str) -> String {
    let Some(at) = message.find("unknown field `") else {
        return message.to_string();
    };
    // serde_yaml may prefix the path of the mapping (`all.children.web: unknown field ...`).
    let prefix = message[..at].trim_start_matches('.');
    let rest = &message[at + "unknown field `".len()..];
    let Some(end) = rest.find('`') else {
        return message.to_string();
    };
    let unknown = &rest[..end];
    let expected: Vec<&str> = rest[end + 1..]
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s)
        .collect();
    match suggest(unknown, &expected) {
        Some(best) => format!("{prefix}unknown key `{unknown}`, did you mean `{best}`?"),
        None if expected.is_empty() => format!("{prefix}unknown key `{unknown}`"),
        None => format!(
            "{prefix}unknown key `{unknown}`, expected one of: {}",
            expected.join(", ")
        ),
    }
}

/// The closest candidate to `word`, if it is close enough to be a likely typo.
pub fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Positions of every node of a YAML document, by path: `"0.state.3"` is item 3 of the `state`
/// list of item 0 of the top-level list; the position is where the node starts (1-based line
/// and column). Used to point semantic errors (found after parsing) at their source.
pub fn node_positions(text: &str) -> std::collections::HashMap<String, (usize, usize)> {
    use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
    use yaml_rust2::scanner::Marker;

    enum Frame {
        Seq(usize),
        /// `Some(key)` once the key has been read and the value is expected.
        Map(Option<String>),
    }
    struct Recv {
        stack: Vec<Frame>,
        path: Vec<String>,
        out: std::collections::HashMap<String, (usize, usize)>,
        /// A block mapping starts where its first key starts (the parser marks a later point).
        pending_map: Option<String>,
    }
    impl Recv {
        /// A node starts: returns its path, or None when the node is a mapping key.
        fn node_path(&mut self, key_text: Option<&str>) -> Option<String> {
            match self.stack.last_mut() {
                Some(Frame::Seq(i)) => {
                    let p = join(&self.path, &i.to_string());
                    *i += 1;
                    Some(p)
                }
                Some(Frame::Map(k @ None)) => {
                    *k = Some(key_text.unwrap_or("?").to_string());
                    None
                }
                Some(Frame::Map(k)) => {
                    let key = k.take().unwrap_or_default();
                    Some(join(&self.path, &key))
                }
                None => Some(String::new()),
            }
        }
    }
    fn join(path: &[String], last: &str) -> String {
        let mut v: Vec<&str> = path.iter().map(String::as_str).collect();
        v.push(last);
        v.retain(|s| !s.is_empty());
        v.join(".")
    }
    impl MarkedEventReceiver for Recv {
        fn on_event(&mut self, ev: Event, mark: Marker) {
            let pos = (mark.line().max(1), mark.col() + 1);
            match ev {
                Event::Scalar(text, ..) => {
                    if let Some(m) = self.pending_map.take() {
                        self.out.insert(m, pos);
                    }
                    if let Some(p) = self.node_path(Some(&text)) {
                        self.out.insert(p, pos);
                    }
                }
                Event::Alias(_) => {
                    if let Some(p) = self.node_path(Some("*")) {
                        self.out.insert(p, pos);
                    }
                }
                Event::SequenceStart(..) | Event::MappingStart(..) => {
                    self.pending_map = None;
                    let p = self.node_path(None).unwrap_or_default();
                    if matches!(ev, Event::MappingStart(..)) {
                        self.pending_map = Some(p.clone());
                    }
                    self.out.insert(p.clone(), pos);
                    self.path = if p.is_empty() {
                        Vec::new()
                    } else {
                        p.split('.').map(str::to_string).collect()
                    };
                    self.stack.push(if matches!(ev, Event::SequenceStart(..)) {
                        Frame::Seq(0)
                    } else {
                        Frame::Map(None)
                    });
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    self.stack.pop();
                    self.path.pop();
                }
                _ => {}
            }
        }
    }
    let mut r = Recv {
        stack: Vec::new(),
        path: Vec::new(),
        out: std::collections::HashMap::new(),
        pending_map: None,
    };
    // Errors are reported by the typed parse; positions are best effort.
    let _ = Parser::new_from_str(text).load(&mut r, false);
    r.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn yaml11_booleans_are_booleans_quoted_strings_and_keys_stay() {
        let v: Value = from_str(
            Path::new("t.yml"),
            "a: yes\nb: No\nc: 'no'\nd: \"off\"\ne: [on, OFF, True, fAlse]\nyes: 1\nf: !!str yes\n\
             g: yesterday\n",
        )
        .unwrap();
        let get = |k: &str| v.get(k).cloned();
        assert_eq!(get("a"), Some(Value::Bool(true)));
        assert_eq!(get("b"), Some(Value::Bool(false)));
        assert_eq!(get("c"), Some(Value::String("no".into())));
        assert_eq!(get("d"), Some(Value::String("off".into())));
        let e: Vec<Value> = [true, false, true, false].map(Value::Bool).to_vec();
        assert_eq!(get("e"), Some(Value::Sequence(e)));
        assert_eq!(get("yes"), Some(Value::Number(1.into())));
        assert_eq!(get("f"), Some(Value::String("yes".into())));
        assert_eq!(get("g"), Some(Value::String("yesterday".into())));
    }

    #[test]
    fn errors_after_a_rewritten_boolean_keep_their_source_column() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct T {
            a: bool,
            b: u32,
        }
        // `no` becomes `false` (3 characters longer) before the bad value on the same line.
        let err = from_str::<T>(Path::new("t.yml"), "{a: no, b: x}\n").unwrap_err();
        let plain = from_str::<T>(Path::new("t.yml"), "{a: false, b: x}\n").unwrap_err();
        let (line, column) = err.position.expect("a position");
        assert_eq!(line, 1);
        assert_eq!(column + 3, plain.position.expect("a position").1);
        assert_eq!(yaml11_bool("ON"), Some(true));
        assert_eq!(yaml11_bool("n"), None);
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Res {
        owner: Option<String>,
        group: Option<String>,
        mode: Option<String>,
    }

    #[test]
    fn unknown_key_gets_a_suggestion_and_position() {
        let err =
            from_str::<BTreeMap<String, Res>>(Path::new("p.yml"), "a:\n  owner: x\n  ownr: y\n")
                .unwrap_err();
        assert_eq!(err.position, Some((3, 3)));
        assert_eq!(err.message, "a: unknown key `ownr`, did you mean `owner`?");
        assert_eq!(
            err.to_string(),
            "p.yml:3:3: a: unknown key `ownr`, did you mean `owner`?"
        );
    }

    #[test]
    fn unrelated_unknown_key_lists_the_expected_ones() {
        let err = from_str::<Res>(Path::new("p.yml"), "zzzzzzzz: 1\n").unwrap_err();
        assert_eq!(
            err.message,
            "unknown key `zzzzzzzz`, expected one of: owner, group, mode"
        );
    }

    #[test]
    fn node_positions_by_path() {
        let src = "- name: a
  state:
    - file: /x
      mode: '0644'
    - {link: /y, target: /z}
- name: b
";
        let p = node_positions(src);
        assert_eq!(p["0"], (1, 3));
        assert_eq!(p["0.state.0"], (3, 7));
        assert_eq!(p["0.state.0.mode"], (4, 13));
        assert_eq!(
            p["0.state.1"],
            (5, 8),
            "a flow mapping starts at its first key"
        );
        assert_eq!(p["0.state.1.target"], (5, 26));
        assert_eq!(p["1.name"], (6, 9));
    }

    const LAUGHS: &str =
        "a: &a [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
";

    #[test]
    fn an_alias_bomb_is_located_and_named() {
        let err = from_str::<Value>(Path::new("bomb.yml"), LAUGHS).unwrap_err();
        assert_eq!(err.position, Some((9, 8)), "{err}");
        assert!(
            err.to_string().starts_with(
                "bomb.yml:9:8: too many alias expansions (YAML alias bomb?): this alias expands to"
            ),
            "{err}"
        );
    }

    #[test]
    fn alias_sizes_count_nested_expansions() {
        let b = alias_bomb("a: &a [1, 2]\nb: &b [*a, *a]\nc: *b\n").expect("aliases");
        // b = [a(3 nodes), a(3 nodes)] = 7 nodes with its own sequence.
        assert_eq!(
            b,
            AliasBomb {
                position: (3, 4),
                nodes: 7
            }
        );
        assert_eq!(alias_bomb("a: 1\nb: [2]\n"), None);
    }

    #[test]
    fn syntax_error_has_position() {
        let err = from_str::<Value>(Path::new("x.yml"), "a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.position.is_some(), "{err}");
        assert!(err.to_string().starts_with("x.yml:"), "{err}");
    }
}
