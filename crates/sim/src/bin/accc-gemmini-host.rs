//! A host process for C programs on the Gemmini emulator (see
//! `accc_sim::host`): `accc-gemmini-host LIB HARDWARE.json REPORT.json --
//! ARGS...`. The `accc` binary serves the same role through its
//! `emulate` command; this one lets the crate's own tests run programs.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    accc_sim::host::serve(&args)
}
