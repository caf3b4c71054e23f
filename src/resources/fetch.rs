//! A file the host fetches from a URL, shared by the kinds that do it (`download:`, and an
//! `apt_source:`'s `key_url`): the checks of a URL and a sha256 as written, and the shell text
//! filling the apply script's private temp file `"$t"` from the URL (curl, else wget), checked
//! against the sha256 when one is given.

use crate::transport::shell_quote;

/// A URL play can fetch: `http://`, `https://` or `file://` (with something after it, no
/// whitespace or control characters).
pub fn check_url(url: &str) -> Result<(), String> {
    let rest = ["http://", "https://", "file://"]
        .iter()
        .find_map(|s| url.strip_prefix(s));
    match rest {
        None => Err(format!(
            "url `{url}`: only http://, https:// and file:// URLs are fetched"
        )),
        Some("") => Err(format!("url `{url}`: nothing after the scheme")),
        Some(_) if url.chars().any(|c| c.is_whitespace() || c.is_control()) => Err(format!(
            "url `{url}`: whitespace or control characters (percent-encode them)"
        )),
        Some(_) => Ok(()),
    }
}

/// A sha256 as 64 hex digits, returned lowercase.
pub fn check_sha256(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(t.to_ascii_lowercase())
    } else {
        Err(format!("sha256 `{s}`: 64 hexadecimal digits"))
    }
}

/// The shell text that fills `"$t"` from the URL on the host: curl, else wget (not for
/// `file:` URLs).
fn command(url: &str) -> String {
    command_of(&shell_quote(url), url.starts_with("file://"))
}

/// [`command`] of a URL given as one shell word `word` (quoted, or a variable such as
/// `"$u"`); `file`: it is a `file://` URL (wget cannot read it).
pub fn command_of(word: &str, file: bool) -> String {
    let wget = if file {
        String::new()
    } else {
        format!(
            "elif command -v wget >/dev/null 2>&1; then wget -q -O \"$t\" {word} </dev/null 1>&2\n"
        )
    };
    format!(
        "if command -v curl >/dev/null 2>&1; then curl -fsS -L --proto '=http,https,file' -o \"$t\" {word} </dev/null 1>&2\n\
         {wget}else printf 'neither curl nor wget on the host\\n' >&2; false; fi"
    )
}

/// The lines of step `i` filling `"$t"` from `url` for `path`, failing the step when the
/// fetch fails or, with a `sha256` (empty: none), when the bytes have another one (then `path`
/// is left untouched). For `apply::fetched_file`.
pub fn fill(i: usize, url: &str, sha256: &str, path: &str) -> String {
    let fetch = format!("{} || play_fail {i}", command(url));
    format!("{fetch}{}", sum_check(i, sha256, &shell_quote(url), path))
}

/// The lines of step `i` checking that `"$t"` has `sha256` (empty: none, no lines), else
/// failing the step saying where it came from (`from`, one shell word) and that `path` is
/// left untouched. Each line starts with a newline.
pub fn sum_check(i: usize, sha256: &str, from: &str, path: &str) -> String {
    if sha256.is_empty() {
        return String::new();
    }
    format!(
        "\ns=$(sha256sum < \"$t\") || play_fail {i}\ns=${{s%% *}}\nif [ \"$s\" != {want} ]; then printf '%s: sha256 %s, not %s: %s left untouched\\n' {from} \"$s\" {want} {path} >&2; play_fail {i}; fi",
        want = shell_quote(sha256),
        path = shell_quote(path),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_sums_are_checked() {
        assert!(check_url("https://x/y").is_ok());
        assert!(check_url("file:///srv/x").is_ok());
        assert!(check_url("ftp://x/y").is_err());
        assert!(check_url("http://").is_err());
        assert!(check_url("http://x/a b").is_err());
        assert_eq!(check_sha256(&"AB".repeat(32)), Ok("ab".repeat(32)));
        assert!(check_sha256("abc").is_err());
        assert!(check_sha256(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn a_sum_is_checked_only_when_given() {
        let f = fill(2, "http://x/k", "", "/k");
        assert!(f.contains("curl -fsS -L"), "{f}");
        assert!(!f.contains("sha256sum"), "{f}");
        let f = fill(2, "file:///k", &"ab".repeat(32), "/k");
        assert!(!f.contains("wget -q"), "{f}");
        assert!(f.contains("sha256sum < \"$t\""), "{f}");
        assert!(f.contains("play_fail 2"), "{f}");
    }
}
