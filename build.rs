//! Link-time settings of the `lvsd` binary.
//!
//! Relative relocations are packed (DT_RELR): a position-independent lvsd
//! has ~25,000 of them, 600 KB of `.rela.dyn` the loader reads at every
//! start. Packed they take a few KB, so short commands (`lvsd list`, run
//! as often as `ipvsadm -Ln`) start with fewer page faults. Needs GNU ld
//! 2.38+ to link and glibc 2.36+ to run (Debian 12); the linker is asked
//! first, so an older toolchain links as before.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let gnu_linux = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    if gnu_linux && linker_packs_relocations() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether `cc` links an empty program with the option.
fn linker_packs_relocations() -> bool {
    let Ok(out_dir) = std::env::var("OUT_DIR") else {
        return false;
    };
    let dir = std::path::Path::new(&out_dir);
    let src = dir.join("relr-probe.c");
    if std::fs::write(&src, "int main(void) { return 0; }\n").is_err() {
        return false;
    }
    Command::new("cc")
        .arg("-Wl,-z,pack-relative-relocs")
        .arg("-o")
        .arg(dir.join("relr-probe"))
        .arg(&src)
        .output()
        .is_ok_and(|o| o.status.success() && o.stderr.is_empty())
}
