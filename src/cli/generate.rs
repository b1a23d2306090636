//! `lvsd generate man DIR` / `lvsd generate completions DIR` (hidden): the man pages
//! and shell completions, generated from the clap definition itself so they cannot
//! drift from the binary. Packaging runs them with the built binary (see
//! `deploy/debian/build-deb.sh`); a hidden subcommand needs no second binary or xtask
//! and generates from exactly the binary that is shipped.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, CommandFactory, Subcommand, ValueEnum};
use roff::{bold, roman, Inline, Roff};

use crate::config::keywords;

#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(subcommand)]
    pub what: What,
}

#[derive(Debug, Subcommand)]
pub enum What {
    /// Write lvsd.8, lvsd-SUBCOMMAND.8 and lvsd-keepalived.conf.5 into DIR.
    Man { dir: PathBuf },
    /// Write bash (lvsd), zsh (_lvsd) and fish (lvsd.fish) completions into DIR.
    Completions {
        dir: PathBuf,
        /// Only this shell (default: bash, zsh and fish).
        #[arg(long, value_enum)]
        shell: Option<Shell>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

pub fn execute(args: GenerateArgs) -> ExitCode {
    let result = match args.what {
        What::Man { dir } => man_pages(&dir),
        What::Completions { dir, shell } => completions(&dir, shell),
    };
    match result {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lvsd: error: {e}");
            ExitCode::from(super::EXIT_ERROR)
        }
    }
}

fn write(path: PathBuf, text: &[u8]) -> Result<PathBuf, String> {
    std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(path)
}

/// lvsd(8), one lvsd-SUBCOMMAND(8) per visible subcommand, lvsd-keepalived.conf(5).
pub fn man_pages(dir: &Path) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let cmd = super::Cli::command();
    let mut files = Vec::new();
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .section("8")
        .render(&mut buf)
        .map_err(|e| e.to_string())?;
    files.push(write(dir.join("lvsd.8"), &buf)?);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("lvsd-{}", sub.get_name());
        let mut buf = Vec::new();
        clap_mangen::Man::new(
            sub.clone()
                .name(name.clone())
                .version(cmd.get_version().unwrap_or("").to_string())
                .disable_version_flag(true),
        )
        .section("8")
        .render(&mut buf)
        .map_err(|e| e.to_string())?;
        files.push(write(dir.join(format!("{name}.8")), &buf)?);
    }
    files.push(write(
        dir.join("lvsd-keepalived.conf.5"),
        compat_page().as_bytes(),
    )?);
    Ok(files)
}

/// Completion scripts under the names bash-completion, zsh and fish look for.
pub fn completions(dir: &Path, shell: Option<Shell>) -> Result<Vec<PathBuf>, String> {
    use clap_complete::shells;
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let mut files = Vec::new();
    let shells = match shell {
        Some(s) => vec![s],
        None => vec![Shell::Bash, Shell::Zsh, Shell::Fish],
    };
    for s in shells {
        let mut cmd = super::Cli::command();
        let mut buf = Vec::new();
        let file = match s {
            Shell::Bash => {
                clap_complete::generate(shells::Bash, &mut cmd, "lvsd", &mut buf);
                "lvsd"
            }
            Shell::Zsh => {
                clap_complete::generate(shells::Zsh, &mut cmd, "lvsd", &mut buf);
                "_lvsd"
            }
            Shell::Fish => {
                clap_complete::generate(shells::Fish, &mut cmd, "lvsd", &mut buf);
                "lvsd.fish"
            }
        };
        files.push(write(dir.join(file), &buf)?);
    }
    Ok(files)
}

/// The README, for its "Deliberate differences" section.
const README: &str = include_str!("../../README.md");

/// lvsd-keepalived.conf(5): what lvsd does with each keepalived.conf keyword
/// (from `keywords::TABLE`) and the README's deliberate differences.
pub fn compat_page() -> String {
    let mut page = Roff::new();
    page.control(
        "TH",
        [
            "LVSD-KEEPALIVED.CONF",
            "5",
            "",
            concat!("lvsd ", env!("CARGO_PKG_VERSION")),
        ],
    )
    .control("SH", ["NAME"])
    .text([roman(
        "lvsd-keepalived.conf - how lvsd reads keepalived.conf: supported keywords and differences",
    )])
    .control("SH", ["DESCRIPTION"])
    .text([
        bold("lvsd"),
        roman(
            " reads keepalived 2.2.7's configuration file unchanged (see keepalived.conf(5) \
             for the syntax and the meaning of each keyword). This page lists, block by block, \
             which keywords lvsd implements; every other keyword keepalived accepts is parsed \
             and draws a warning naming it with file:line:column at ",
        ),
        bold("lvsd check-config"),
        roman(" and at start, so nothing is ignored silently."),
    ])
    .control("SH", ["KEYWORDS"]);
    keywords::roff_matrix(&mut page);
    page.control("SH", ["DELIBERATE DIFFERENCES"]);
    for item in readme_differences() {
        page.control("IP", ["*", "2"]).text(markdown_inline(&item));
    }
    page.control("SH", ["SEE ALSO"]).text([roman(
        "lvsd(8), lvsd-run(8), lvsd-check-config(8), keepalived.conf(5), keepalived(8)",
    )]);
    page.render()
}

/// The bullet items of the README's "### Deliberate differences" section, each on one line.
fn readme_differences() -> Vec<String> {
    let start = README
        .find("### Deliberate differences")
        .map(|i| i + "### Deliberate differences".len())
        .unwrap_or(README.len());
    let rest = &README[start..];
    let end = rest.find("\n## ").unwrap_or(rest.len());
    let mut items: Vec<String> = Vec::new();
    for line in rest[..end].lines() {
        let t = line.trim();
        if let Some(first) = t.strip_prefix("- ") {
            items.push(first.to_string());
        } else if !t.is_empty() {
            if let Some(last) = items.last_mut() {
                last.push(' ');
                last.push_str(t);
            }
        }
    }
    items
}

/// Markdown's `**bold**` and `` `code` `` become bold; `[text](link)` becomes text.
fn markdown_inline(text: &str) -> Vec<Inline> {
    let mut out = Vec::new();
    let mut plain = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (marker, close) = if rest.starts_with("**") {
            ("**", "**")
        } else if rest.starts_with('`') {
            ("`", "`")
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            plain.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        };
        let body = &rest[marker.len()..];
        match body.find(close) {
            Some(i) => {
                if !plain.is_empty() {
                    out.push(roman(unlink(&std::mem::take(&mut plain))));
                }
                out.push(bold(&body[..i]));
                rest = &body[i + close.len()..];
            }
            None => {
                plain.push_str(marker);
                rest = body;
            }
        }
    }
    if !plain.is_empty() {
        out.push(roman(unlink(&plain)));
    }
    out
}

/// `[text](target)` -> `text`.
fn unlink(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        match after
            .find("](")
            .and_then(|m| after[m..].find(')').map(|c| (m, m + c)))
        {
            Some((m, c)) => {
                out.push_str(&rest[..open]);
                out.push_str(&after[..m]);
                rest = &after[c + 1..];
            }
            None => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_differences_are_found() {
        let items = readme_differences();
        assert!(items.len() >= 5, "{items:?}");
        assert!(items.iter().any(|i| i.contains("check-config")));
    }

    #[test]
    fn markdown_inline_marks() {
        let r = markdown_inline("a **b** `c` [d](e) f");
        assert_eq!(
            r,
            vec![roman("a "), bold("b"), roman(" "), bold("c"), roman(" d f")]
        );
    }
}
