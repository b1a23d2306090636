//! Pages touched by the pure part of `lvsd run`'s start-up, phase by phase:
//! load the configuration, translate it, make the director, the desired
//! table and the first plan, a piece at a time with its messages encoded,
//! then the checks to start (asked for once the table is written, as the
//! daemon does).
//!
//! `cargo run --release --example startup_pages -- FILE`
//!
//! In the UML test bed each fresh page costs a trap (about 160 µs), and they
//! are most of a big start-up (BENCHMARKS.md, issue #19); this runs on the
//! host, without a kernel's IPVS, so a change's effect on them is seen in
//! seconds. The counts are minor page faults of this process so far.
use std::process::ExitCode;

fn minor_faults() -> i64 {
    use nix::sys::resource::{getrusage, UsageWho};
    getrusage(UsageWho::RUSAGE_SELF).map_or(-1, |r| r.minor_page_faults())
}

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: startup_pages CONFIG_FILE");
        return ExitCode::from(2);
    };
    let path = std::path::PathBuf::from(path);
    println!("start: {} pages", minor_faults());
    // As `lvsd run` (LVSD_MALLOC_DEFAULTS=1: glibc's defaults, to compare).
    if std::env::var_os("LVSD_MALLOC_DEFAULTS").is_none() {
        lvsd::daemon::memory::tune_malloc();
    }
    let opts = lvsd::config::ConfigOptions::default();
    let loaded = match lvsd::daemon::prepare::load(&path, &opts, false) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{}: {}", path.display(), e.render());
            return ExitCode::FAILURE;
        }
    };
    println!("configuration loaded: {} pages", minor_faults());
    // As the daemon's load: the sources go once the model is translated.
    let sources = loaded.sources;
    let prepared = match lvsd::daemon::prepare::prepare(loaded.config) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    drop(sources);
    println!("translated: {} pages", minor_faults());
    let empty = ipvs::model::Table::default();
    // As the daemon: the checks to start are asked for after the table.
    let mut director =
        lvsd::director::state::Director::adopting_unchecked(prepared.director, &empty);
    println!("director: {} pages", minor_faults());
    let desired = director.desired();
    println!("desired table: {} pages", minor_faults());
    // As the daemon: planned a piece at a time, each piece written (here:
    // encoded as the client sends them, a few at a time into one buffer)
    // before the next is planned.
    let mut planner = lvsd::director::plan::planner(&desired, &empty);
    let mut out = Vec::with_capacity(65536);
    let (mut count, mut bytes) = (0, 0);
    while let Some(ops) = planner.next_chunk(lvsd::director::plan::PLAN_PIECE) {
        count += ops.len();
        for op in &ops {
            out.clear();
            out.extend_from_slice(&ipvs::ops::encode(op.message(), 30, 1, false));
            bytes += out.len();
        }
    }
    drop(planner);
    println!(
        "plan, {count} operations, {bytes} bytes encoded: {} pages",
        minor_faults()
    );
    let actions = director.initial_checks();
    println!(
        "{} checks to start: {} pages",
        actions.len(),
        minor_faults()
    );
    std::hint::black_box((director, actions, desired));
    ExitCode::SUCCESS
}
