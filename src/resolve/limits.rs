//! Bounds of one template rendering (issue 13): an output cap, enforced by a writer that refuses
//! to grow past it, minijinja fuel (instructions), and a budget of the values it makes (opened
//! by `template::render_named`/`eval_expr`, charged by the patched minijinja of
//! vendor/minijinja and by the guarded filters here), so that a runaway template fails with a
//! located error instead of exhausting memory or time.

use std::fmt::Write as _;
use std::io;

use minijinja::value::{Rest, Value};
use minijinja::{Environment, Error, ErrorKind, State};

/// The default output cap of one rendering: 64 MiB.
pub const DEFAULT_MAX_OUTPUT: u64 = 64 * 1024 * 1024;

/// Fuel (minijinja instructions) of one rendering, at least.
pub const MIN_FUEL: u64 = 100_000_000;

/// Fuel per byte of the output cap, when that gives more than [`MIN_FUEL`]: raising the cap
/// raises the fuel with it, so that a template allowed to write more may also loop more.
pub const FUEL_PER_BYTE: u64 = 2;

/// Bounds of every template rendering of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes one rendering may write (a template, or a templated string).
    pub max_output: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_output: DEFAULT_MAX_OUTPUT,
        }
    }
}

impl Limits {
    /// The fuel of one rendering.
    pub fn fuel(&self) -> u64 {
        self.max_output.saturating_mul(FUEL_PER_BYTE).max(MIN_FUEL)
    }
}

impl Limits {
    /// Items a sequence may have to go through a filter that walks or copies it.
    pub fn max_items(&self) -> u64 {
        (self.max_output / 16).max(1)
    }
}

/// Replaces minijinja's filters that can make a value much larger than their input (`replace`,
/// `join`, `indent`, `format`) or walk or copy a whole sequence (`list`, `sort`, `sum`...) with
/// guarded ones: the output size is bounded before the work is done, against `limits`. A filter
/// runs inside one instruction, so neither fuel nor the capped writer would stop it in time.
pub fn guard_filters(env: &mut Environment<'static>, limits: Limits) {
    use minijinja::filters as f;
    let guarded: [(&str, Value, Bound); 26] = [
        ("replace", Value::from_function(f::replace), replace_bound),
        ("join", Value::from_function(f::join), join_bound),
        ("indent", Value::from_function(f::indent), indent_bound),
        ("format", Value::from_function(f::format), format_bound),
        ("list", Value::from_function(f::list), no_bound),
        ("sort", Value::from_function(f::sort), no_bound),
        ("reverse", Value::from_function(f::reverse), no_bound),
        ("unique", Value::from_function(f::unique), no_bound),
        ("sum", Value::from_function(f::sum), no_bound),
        ("min", Value::from_function(f::min), no_bound),
        ("max", Value::from_function(f::max), no_bound),
        ("last", Value::from_function(f::last), no_bound),
        ("string", Value::from_function(f::string), no_bound),
        ("tojson", Value::from_function(f::tojson), no_bound),
        ("pprint", Value::from_function(f::pprint), no_bound),
        ("items", Value::from_function(f::items), no_bound),
        ("dictsort", Value::from_function(f::dictsort), no_bound),
        ("map", Value::from_function(f::map), no_bound),
        ("select", Value::from_function(f::select), no_bound),
        ("reject", Value::from_function(f::reject), no_bound),
        ("selectattr", Value::from_function(f::selectattr), no_bound),
        ("rejectattr", Value::from_function(f::rejectattr), no_bound),
        ("batch", Value::from_function(f::batch), no_bound),
        ("slice", Value::from_function(f::slice), no_bound),
        ("groupby", Value::from_function(f::groupby), no_bound),
        ("lines", Value::from_function(f::lines), no_bound),
    ];
    for (name, builtin, bound) in guarded {
        env.add_filter(name, move |state: &State, args: Rest<Value>| {
            check_args(name, &args, limits)?;
            if let Some(size) = bound(&args, limits.max_output) {
                if size > limits.max_output {
                    return Err(value_too_large(name, limits));
                }
                // Cumulative over the rendering: many results kept alive add up.
                if minijinja::budget::remaining().is_some_and(|left| size > left) {
                    minijinja::budget::charge(size)?;
                }
            }
            let out = builtin.call(state, &args)?;
            check_args(name, std::slice::from_ref(&out), limits)?;
            minijinja::budget::charge(made_bytes(&out))?;
            Ok(out)
        });
    }
}

/// Charges the rendering's budget before a Python method of a string that can make a larger
/// value runs (`sep.join(items)`, `s.replace(a, b)`), as the filters of the same name are.
pub fn charge_method(method: &str, value: &Value, args: &[Value]) -> Result<(), Error> {
    let Some(left) = minijinja::budget::remaining() else {
        return Ok(());
    };
    let size = match method {
        "join" => args
            .first()
            .and_then(|items| join_bound(&[items.clone(), value.clone()], left)),
        "replace" => {
            let mut all = vec![value.clone()];
            all.extend(args.iter().cloned());
            replace_bound(&all, left)
        }
        _ => None,
    };
    match size {
        Some(size) if size > left => minijinja::budget::charge(size),
        _ => Ok(()),
    }
}

/// Charges what a method or filter made (see [`made_bytes`]).
pub fn charge_made(v: &Value) -> Result<(), Error> {
    minijinja::budget::charge(made_bytes(v))
}

/// An upper bound of a filter's output size in bytes, from its arguments (`None`: not an
/// amplifying filter). Past `budget`, any number above it.
type Bound = fn(&[Value], u64) -> Option<u64>;

fn no_bound(_: &[Value], _: u64) -> Option<u64> {
    None
}

fn str_len(v: Option<&Value>) -> u64 {
    v.and_then(Value::as_str).map_or(0, |s| s.len() as u64)
}

/// `s|replace(from, to)`: every match of `from` may become `to`.
fn replace_bound(args: &[Value], _: u64) -> Option<u64> {
    let s = args.first()?.as_str()?;
    let from = args.get(1)?.as_str()?;
    let to = str_len(args.get(2));
    let matches = if from.is_empty() {
        s.chars().count() as u64 + 1
    } else {
        s.matches(from).count() as u64
    };
    Some((s.len() as u64).saturating_add(matches.saturating_mul(to)))
}

/// `seq|join(sep)`: every item's text plus a separator between them.
fn join_bound(args: &[Value], budget: u64) -> Option<u64> {
    let items = args.first()?.try_iter().ok()?;
    let sep = str_len(args.get(1));
    let mut total: u64 = 0;
    for item in items {
        total = total
            .saturating_add(display_len(&item, budget.saturating_sub(total)))
            .saturating_add(sep);
        if total > budget {
            break;
        }
    }
    Some(total)
}

/// `s|indent(width)`: each line may gain `width` bytes (default 4).
fn indent_bound(args: &[Value], _: u64) -> Option<u64> {
    let s = args.first()?.as_str()?;
    let width = match args.get(1) {
        Some(w) => u64::try_from(w.clone()).unwrap_or(0),
        None => 4,
    };
    let lines = s.lines().count() as u64 + 1;
    Some((s.len() as u64).saturating_add(lines.saturating_mul(width)))
}

/// `fmt|format(args...)`: the format, the arguments' text, and any field width written in it.
fn format_bound(args: &[Value], budget: u64) -> Option<u64> {
    let fmt = args.first()?.as_str()?;
    let widths = fmt
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|d| {
            d.parse::<u64>()
                .ok()
                .or((!d.is_empty()).then_some(u64::MAX))
        })
        .fold(0u64, u64::saturating_add);
    let args_len = args[1..]
        .iter()
        .map(|a| display_len(a, budget))
        .fold(0u64, u64::saturating_add);
    Some(
        (fmt.len() as u64)
            .saturating_add(widths)
            .saturating_add(args_len),
    )
}

/// The length of `v` as text, counted without building it; stops past `budget`.
fn display_len(v: &Value, budget: u64) -> u64 {
    if let Some(s) = v.as_str() {
        return s.len() as u64;
    }
    struct Count(u64, u64);
    impl std::fmt::Write for Count {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0 = self.0.saturating_add(s.len() as u64);
            if self.0 > self.1 {
                Err(std::fmt::Error)
            } else {
                Ok(())
            }
        }
    }
    let mut c = Count(0, budget);
    let _ = write!(c, "{v}");
    c.0
}

/// What a filter's result holds, charged to the rendering's budget: a string's bytes, a
/// sequence's slots (its items are shared, not copied).
fn made_bytes(v: &Value) -> u64 {
    if let Some(s) = v.as_str() {
        s.len() as u64
    } else {
        v.len().map_or(0, |n| {
            (n as u64).saturating_mul(std::mem::size_of::<Value>() as u64)
        })
    }
}

/// Refuses a string longer than the output cap or a sequence longer than `max_items`.
fn check_args(filter: &str, args: &[Value], limits: Limits) -> Result<(), Error> {
    for a in args {
        if let Some(s) = a.as_str() {
            if s.len() as u64 > limits.max_output {
                return Err(value_too_large(filter, limits));
            }
        } else if a.as_object().is_some() && a.len().is_some_and(|n| n as u64 > limits.max_items())
        {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "`{filter}` on a sequence of more than {} items (the cap follows \
                     --max-template-size)",
                    limits.max_items()
                ),
            ));
        }
    }
    Ok(())
}

fn value_too_large(filter: &str, limits: Limits) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!(
            "`{filter}` would make a value larger than {} (the cap per rendering; raise it \
             with --max-template-size)",
            format_size(limits.max_output)
        ),
    )
}

/// An in-memory writer that fails once more than `limit` bytes would be written; what it holds
/// (and its allocation) never exceeds `limit`.
#[derive(Debug)]
pub struct CappedWriter {
    buf: Vec<u8>,
    limit: usize,
    exceeded: bool,
}

/// The error a [`CappedWriter`] returns once its limit is passed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("output exceeds {}", format_size(*.0))]
pub struct OutputTooLarge(pub u64);

impl CappedWriter {
    pub fn new(limit: u64) -> Self {
        CappedWriter {
            buf: Vec::new(),
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            exceeded: false,
        }
    }

    /// True once a write was refused for passing the limit.
    pub fn exceeded(&self) -> bool {
        self.exceeded
    }

    pub fn into_inner(self) -> Vec<u8> {
        self.buf
    }
}

impl io::Write for CappedWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let new_len = match self.buf.len().checked_add(data.len()) {
            Some(n) if n <= self.limit => n,
            _ => {
                self.exceeded = true;
                return Err(io::Error::other(OutputTooLarge(self.limit as u64)));
            }
        };
        if new_len > self.buf.capacity() {
            // Grow by doubling as Vec does, but never past the limit.
            let target = new_len
                .max(self.buf.capacity().saturating_mul(2))
                .min(self.limit);
            self.buf
                .try_reserve_exact(target - self.buf.len())
                .map_err(io::Error::other)?;
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A size that [`parse_size`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid size `{0}`: a number of bytes, optionally followed by a unit: \
     K/KiB, M/MiB, G/GiB (powers of 1024) or KB, MB, GB (powers of 1000)"
)]
pub struct SizeError(pub String);

/// A size in bytes: `1048576`, `64MiB`, `64M`, `1GiB`, `500MB`, `2 GiB` (units are
/// case-insensitive; K/M/G and KiB/MiB/GiB are powers of 1024, KB/MB/GB of 1000).
pub fn parse_size(text: &str) -> Result<u64, SizeError> {
    let err = || SizeError(text.to_string());
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    if digits.is_empty() {
        return Err(err());
    }
    let n: u64 = digits.parse().map_err(|_| err())?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => return Err(err()),
    };
    n.checked_mul(factor).ok_or_else(err)
}

/// A size for people: `64 MiB` when a whole number of a binary unit, else `N bytes`.
pub fn format_size(bytes: u64) -> String {
    for (unit, factor) in [
        ("TiB", 1u64 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ] {
        if bytes >= factor && bytes.is_multiple_of(factor) {
            return format!("{} {unit}", bytes / factor);
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn writer_keeps_everything_up_to_the_limit() {
        let mut w = CappedWriter::new(10);
        w.write_all(b"hello").expect("first");
        w.write_all(b"world").expect("exactly at the limit");
        assert!(!w.exceeded());
        assert_eq!(w.into_inner(), b"helloworld");
    }

    #[test]
    fn writer_refuses_past_the_limit_and_never_allocates_beyond_it() {
        let mut w = CappedWriter::new(10);
        w.write_all(b"0123456").expect("first");
        let e = w.write_all(b"7890").expect_err("past the limit");
        assert!(w.exceeded());
        assert_eq!(e.to_string(), "output exceeds 10 bytes");
        assert!(w.buf.capacity() <= 10, "capacity {}", w.buf.capacity());
        assert_eq!(w.into_inner(), b"0123456");
    }

    #[test]
    fn writer_grows_in_many_small_writes_within_the_limit() {
        let mut w = CappedWriter::new(1000);
        for _ in 0..100 {
            w.write_all(b"0123456789").expect("within");
        }
        assert!(w.write_all(b"x").is_err());
        assert_eq!(w.buf.len(), 1000);
        assert_eq!(w.buf.capacity(), 1000);
    }

    #[test]
    fn sizes_parse_with_binary_and_decimal_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("2 gib"), Ok(2 << 30));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("500MB"), Ok(500_000_000));
        assert_eq!(parse_size("3kb"), Ok(3000));
        assert_eq!(parse_size("10B"), Ok(10));
    }

    #[test]
    fn bad_sizes_are_refused() {
        for bad in [
            "",
            "MiB",
            "-1",
            "1.5GiB",
            "12XB",
            "99999999999999999999",
            "20000000TiB",
        ] {
            let e = parse_size(bad).expect_err(bad);
            assert!(e.to_string().contains("invalid size"), "{bad}: {e}");
        }
    }

    #[test]
    fn sizes_format_for_people() {
        assert_eq!(format_size(64 << 20), "64 MiB");
        assert_eq!(format_size(1 << 30), "1 GiB");
        assert_eq!(format_size(1536), "1536 bytes");
        assert_eq!(format_size(3 << 10), "3 KiB");
    }

    /// The budget API of the vendored minijinja (its own tests do not run in play's build).
    #[test]
    fn the_budget_stops_at_its_size_and_scopes_nest() {
        use minijinja::budget;
        assert_eq!(budget::remaining(), None);
        budget::charge(u64::MAX).expect("no budget open: free");
        let outer = budget::enter(10);
        budget::charge(6).expect("within");
        assert!(budget::charge(5).is_err());
        assert!(budget::exceeded());
        assert_eq!(
            budget::remaining(),
            Some(4),
            "a refused charge takes nothing"
        );
        {
            let _inner = budget::enter(100);
            assert!(!budget::exceeded());
            budget::charge(50).expect("the inner budget");
            assert!(budget::to_string(&"x".repeat(51)).is_err());
        }
        assert_eq!(budget::remaining(), Some(4));
        assert_eq!(budget::to_string(&"abc").expect("fits"), "abc");
        assert!(budget::to_string(&"ab").is_err());
        drop(outer);
        assert_eq!(budget::remaining(), None);
        assert!(!budget::exceeded());
    }

    #[test]
    fn fuel_grows_with_the_cap() {
        assert_eq!(
            Limits::default().fuel(),
            MIN_FUEL.max(2 * DEFAULT_MAX_OUTPUT)
        );
        let big = Limits {
            max_output: 1 << 30,
        };
        assert_eq!(big.fuel(), 2 << 30);
    }
}
