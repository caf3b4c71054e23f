//! `play pull GIT_URL --playbook P [--ref R]`: pull mode, as `ansible-pull`. Keeps a checkout
//! of the repository under `--dir` (default /var/lib/play/pull), moves it to the fetched ref,
//! and converges this machine from it with `play apply --local` (same engine, no SSH, the
//! per-host lock), writing the JSON report to a file. Apply changes nothing when neither the
//! commit nor the machine's state changed, so every run is safe from a timer.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use clap::Args;

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The git repository (any URL or path git clones).
    pub url: String,
    /// The playbook, relative to the checkout.
    #[arg(long)]
    pub playbook: PathBuf,
    /// Branch, tag or commit to apply (default: the remote's HEAD).
    #[arg(long = "ref", default_value = "HEAD")]
    pub git_ref: String,
    /// The inventory, relative to the checkout.
    #[arg(short = 'i', long = "inventory", default_value = "inventory/")]
    pub inventory: PathBuf,
    /// Where checkouts, the last applied commit and reports are kept.
    #[arg(long, default_value = "/var/lib/play/pull")]
    pub dir: PathBuf,
    /// The JSON report of the apply (default: DIR/NAME.report.json).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// The inventory host to converge (default: the one named like this machine).
    #[arg(short = 'l', long)]
    pub limit: Option<String>,
}

/// A folder name for `url`: its last path part (without `.git`) and a hash of the whole URL.
fn checkout_name(url: &str) -> String {
    let last = url
        .trim_end_matches('/')
        .rsplit(['/', ':'])
        .next()
        .unwrap_or("repo")
        .trim_end_matches(".git");
    let clean: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    use sha2::Digest;
    let hash: String = sha2::Sha256::digest(url.as_bytes())
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{clean}-{hash}")
}

/// Runs git with `args`; its stdout (trimmed) or an error with its stderr.
fn git(args: &[&std::ffi::OsStr]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .context("cannot run git")?;
    if !out.status.success() {
        bail!(
            "git {}: {}",
            args.first()
                .map(|a| a.to_string_lossy().into_owned())
                .unwrap_or_default(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

/// Clones or fetches `url` into `co` and checks out `git_ref`; the commit.
fn update(url: &str, git_ref: &str, co: &Path) -> anyhow::Result<String> {
    if git_ref.starts_with('-') {
        bail!("--ref `{git_ref}`: not a ref");
    }
    if !co.join(".git").is_dir() {
        git(&[
            os("clone"),
            os("--quiet"),
            os("--no-checkout"),
            os("--"),
            os(url),
            co.as_os_str(),
        ])?;
    }
    let c = co.as_os_str();
    git(&[
        os("-C"),
        c,
        os("fetch"),
        os("--quiet"),
        os("--force"),
        os("origin"),
        os(git_ref),
    ])?;
    git(&[
        os("-C"),
        c,
        os("checkout"),
        os("--quiet"),
        os("--force"),
        os("--detach"),
        os("FETCH_HEAD"),
    ])?;
    git(&[os("-C"), c, os("rev-parse"), os("HEAD")])
}

pub fn run(args: PullArgs) -> anyhow::Result<i32> {
    // Private: checkouts and reports may hold what only root should read.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let name = checkout_name(&args.url);
    let co = args.dir.join(&name);
    let commit =
        update(&args.url, &args.git_ref, &co).with_context(|| format!("pull {}", args.url))?;
    let last_file = args.dir.join(format!("{name}.commit"));
    let last = std::fs::read_to_string(&last_file).unwrap_or_default();
    let news = if last.trim() == commit {
        "unchanged since the last apply"
    } else {
        "new"
    };
    println!("pull: {} at {commit} ({news})", args.url);
    let report = args
        .report
        .clone()
        .unwrap_or_else(|| args.dir.join(format!("{name}.report.json")));
    let me = std::env::current_exe().context("cannot find the play binary")?;
    let mut apply = Command::new(me);
    apply
        .arg("apply")
        .arg("--local")
        .arg("--color")
        .arg("never")
        .arg("-i")
        .arg(co.join(&args.inventory))
        .args(["--format", "json", "--output"])
        .arg(&report)
        .current_dir(&co);
    if let Some(l) = &args.limit {
        apply.args(["--limit", l]);
    }
    apply.arg(co.join(&args.playbook));
    let status = apply.status().context("cannot run play apply")?;
    let code = status.code().unwrap_or(1);
    if code == 0 {
        std::fs::write(&last_file, format!("{commit}\n"))
            .with_context(|| format!("cannot write {}", last_file.display()))?;
    }
    println!("pull: report in {}", report.display());
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkout_names_are_plain_and_distinct() {
        let a = checkout_name("https://git.example.com/ops/site.git");
        assert!(
            a.starts_with("site-") && a.len() == "site-".len() + 12,
            "{a}"
        );
        let b = checkout_name("git@example.com:other/site.git");
        assert!(b.starts_with("site-") && a != b, "{b}");
        assert!(checkout_name("/srv/my repo/").starts_with("my_repo-"));
    }
}
