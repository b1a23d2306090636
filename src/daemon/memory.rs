//! How the daemon's heap is managed. glibc's malloc by default gives every
//! block over 128 KiB its own mapping and unmaps it when freed, so each big
//! transient buffer of a start-up or reload (the configuration's text, the
//! director's first actions, the first plan: about a megabyte each for
//! 10,000 real servers) faults in fresh pages, which the next phase cannot
//! reuse. Where a page fault is costly (UML traps each one to its host,
//! ~160 µs; issue #19) those faults are a good part of the start-up. Blocks
//! up to 4 MiB come from the heap instead, where what one phase frees the
//! next one reuses: 15 % fewer pages for the 100 × 100 bench config
//! (`examples/startup_pages.rs`). The thresholds are what glibc's dynamic
//! ones grow to for a daemon freeing buffers of that size.
//!
//! glibc only (`mallopt`); elsewhere this does nothing.

/// Blocks this size and larger get their own mapping.
const MMAP_THRESHOLD: i32 = 4 << 20;
/// Free memory at the heap's top beyond this goes back to the kernel.
const TRIM_THRESHOLD: i32 = 8 << 20;

/// Sets malloc's thresholds for a daemon; call before loading anything.
/// Returns whether they were set.
pub fn tune_malloc() -> bool {
    imp::tune(MMAP_THRESHOLD, TRIM_THRESHOLD)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod imp {
    use nix::libc;

    pub fn tune(mmap: i32, trim: i32) -> bool {
        // SAFETY: mallopt only changes malloc's parameters; it returns 1
        // when it took the value.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, mmap) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, trim) == 1
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod imp {
    pub fn tune(_mmap: i32, _trim: i32) -> bool {
        false
    }
}
