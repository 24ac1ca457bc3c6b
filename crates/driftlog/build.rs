//! Links the `driftlog` binary as a position-dependent executable on Linux.
//!
//! Why: a position-independent executable of this size carries about 95,000 relative
//! relocations, one per pointer in its read-only data (vtables, panic locations, static
//! tables). The loader writes every one of them at start, so each of the 1.4 MB of those pages
//! is copied on write: about 390 page faults before `main`, two thirds of everything the
//! process faults in for `--version`. On the machines we measure a fault costs about 5 µs,
//! so a PIE paid some 2 ms on every command, which is most of a `driftlog events --limit 20`
//! (see docs/BENCHMARKS.md, "The process's own start"). Linked at a fixed address, the
//! linker writes those pointers into the file and the pages are shared, read-only, with the
//! page cache: `--version` went from 4.3 to 1.9 ms and a query that finds nothing from 6.4 to
//! 3.3 ms.
//!
//! What it costs: the executable's own code and data are not moved by address-space layout
//! randomization (the libraries, heap, stack and memory maps still are). That is the default
//! of Go's linker on Linux too. A packager who prefers the randomization builds with
//! `DRIFTLOG_BUILD_PIE=1`.

fn main() {
    println!("cargo:rerun-if-env-changed=DRIFTLOG_BUILD_PIE");
    println!("cargo:rerun-if-changed=build.rs");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux");
    let pie = std::env::var_os("DRIFTLOG_BUILD_PIE").is_some_and(|v| !v.is_empty() && v != "0");
    if linux && !pie {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
