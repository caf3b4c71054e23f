//! What `bundle:` and `gem:` share: running a Ruby tool (`bundle`, `gem`) as the entry's
//! user, an rvm or rbenv one named by its path (`~/.rvm/wrappers/default/gem`: `~/` is that
//! user's home) or the user's login shell.

use crate::transport::shell_quote;

/// A path as a shell word: `~/REST` is the home of `user` (root's without one: `~USER/`
/// unquoted, the rest quoted; a user name is `[a-z_][a-z0-9_-]*`, checked as the entry
/// renders), any other path quoted.
pub fn path_word(user: Option<&str>, path: &str) -> String {
    match path.strip_prefix("~/") {
        Some(rest) => format!("~{}/{}", user.unwrap_or("root"), shell_quote(rest)),
        None => shell_quote(path),
    }
}

/// The shell words running `executable` as `user` through `play_as`: a path has its folder
/// first on the PATH (an rvm wrapper's or an rbenv ruby's own `ruby` sits beside it); `login`
/// runs it in the user's login shell (`bash -lc`), where a profile sets up rvm or rbenv. A
/// `~/` path is expanded first (`play_home=~USER &&`: `env`'s `PATH=` word expands no `~`).
/// Its arguments follow.
pub fn command(user: Option<&str>, executable: &str, login: bool) -> String {
    let u = shell_quote(user.unwrap_or_default());
    let home = executable.starts_with("~/");
    let set_home = if home {
        format!("play_home=~{} && ", user.unwrap_or("root"))
    } else {
        String::new()
    };
    let word = |p: &str| match p.strip_prefix("~/").filter(|_| home) {
        Some(rest) => format!("\"$play_home\"/{}", shell_quote(rest)),
        None => shell_quote(p),
    };
    let exe = word(executable);
    if login {
        return format!("{set_home}play_as {u} bash -lc 'exec \"$0\" \"$@\"' {exe}");
    }
    match executable.rsplit_once('/') {
        Some((dir, _)) if !dir.is_empty() => format!(
            "{set_home}play_as {u} env PATH={}:\"$PATH\" {exe}",
            word(dir)
        ),
        _ => format!("{set_home}play_as {u} {exe}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_home_path_is_the_users() {
        assert_eq!(
            command(Some("deploy"), "~/.rvm/wrappers/default/gem", false),
            "play_home=~deploy && play_as deploy env PATH=\"$play_home\"/.rvm/wrappers/default:\"$PATH\" \"$play_home\"/.rvm/wrappers/default/gem"
        );
        assert_eq!(path_word(None, "~/my gems"), "~root/'my gems'");
        assert_eq!(path_word(Some("a"), "/x/~/y"), "'/x/~/y'");
        assert_eq!(command(None, "gem", false), "play_as '' gem");
        assert_eq!(
            command(Some("app"), "bundle", true),
            "play_as app bash -lc 'exec \"$0\" \"$@\"' bundle"
        );
    }
}
