//! A daemon that hands scripts to the spawn helper and exits at once (as
//! lvsd does after its stop scripts) loses none of them: `flush` writes
//! what is still queued, and the helper starts what reached it.
//!
//! This binary plays three parts, chosen by its arguments: the test (no
//! arguments), the daemon (`daemon DIR COUNT`) and the helper
//! (`__spawn-helper FD`, as lvsd's own binary is run).

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use checkers::spawner::{self, Output, Script};

const SCRIPTS: usize = 60;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some(spawner::HELPER_ARG) => match args.get(1).and_then(|fd| fd.parse().ok()) {
            Some(fd) => spawner::serve(fd),
            None => ExitCode::from(2),
        },
        Some("daemon") => daemon(Path::new(&args[1]), args[2].parse().unwrap_or(0)),
        // The test is not an ignored one.
        _ if args.iter().any(|a| a == "--ignored") => {
            println!(
                "\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 1 filtered out"
            );
            ExitCode::SUCCESS
        }
        // libtest's other flags (`--nocapture`, a filter) are not ours.
        _ => test(),
    }
}

/// Queues `count` detached scripts, each creating one file in `dir`, then
/// flushes and exits without any clean-up, as soon as lvsd would.
fn daemon(dir: &Path, count: usize) -> ExitCode {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("current_exe: {e}");
            return ExitCode::from(3);
        }
    };
    if let Err(e) = spawner::start_helper(&exe, || {}) {
        eprintln!("start_helper: {e}");
        return ExitCode::from(3);
    }
    for i in 0..count {
        let line = format!("touch {}/{i}", dir.display());
        let script = Script::shell(&line, None, Output::Inherit, false);
        if let Err(e) = spawner::spawn_detached(&script, "test script") {
            eprintln!("spawn_detached: {e}");
            return ExitCode::from(3);
        }
    }
    if !spawner::flush(Duration::from_secs(10)) {
        eprintln!("flush timed out");
        return ExitCode::from(4);
    }
    // No destructors, no waiting for threads: the writer thread dies here.
    std::process::exit(0)
}

fn test() -> ExitCode {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("tempdir: {e}");
            return ExitCode::FAILURE;
        }
    };
    let status = std::env::current_exe().and_then(|exe| {
        Command::new(exe)
            .arg("daemon")
            .arg(dir.path())
            .arg(SCRIPTS.to_string())
            .status()
    });
    match status {
        Ok(s) if s.success() => {}
        other => {
            eprintln!("the daemon part failed: {other:?}");
            return ExitCode::FAILURE;
        }
    }
    // The helper outlives the daemon and starts every script it was sent.
    let t0 = Instant::now();
    let count = || std::fs::read_dir(dir.path()).map_or(0, |d| d.count());
    while count() < SCRIPTS && t0.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let n = count();
    if n == SCRIPTS {
        println!("test spawner_exit::every_script_queued_before_exit_runs ... ok");
        println!("\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out");
        ExitCode::SUCCESS
    } else {
        println!("test spawner_exit::every_script_queued_before_exit_runs ... FAILED");
        println!("{n} of {SCRIPTS} scripts ran");
        println!(
            "\ntest result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out"
        );
        ExitCode::FAILURE
    }
}
