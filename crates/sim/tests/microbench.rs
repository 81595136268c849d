//! Microbenchmarks that pin the timing model to Gemmini's documented
//! behaviour on the default configuration: a stream of mvins reaches the
//! configured DMA bandwidth, back-to-back computes on resident data reach
//! DIM^2 = 256 MACs per cycle, and reusing one scratchpad region serializes
//! load and compute while alternating two regions overlaps them.

mod common;

use accc_targets::gemmini::isa::{encode, LocalAddr};
use common::{Bench, BASE};

const WS: u64 = 1;

#[test]
fn a_mvin_stream_reaches_the_configured_bandwidth() {
    let mut t = Bench::new(1 << 20);
    t.ok(encode::config_ld(64, 1.0, false, 16, 0));
    let bus = f64::from(t.cfg.dma.bus_bytes);
    let mvins = 2048u64;
    let cycles = t.timed(|t| {
        for i in 0..mvins {
            // 16 rows of 64 bytes (four DIM-column blocks), 1 KiB apart.
            let src = BASE + (i % 1024) * 1024;
            let row = ((i * 64) % 16384) as u32;
            t.ok(encode::mvin(0, src, LocalAddr::spad(row), 64, 16));
        }
    });
    let rate = (mvins * 16 * 64) as f64 / cycles as f64;
    println!("mvin stream: {rate:.2} bytes/cycle of {bus}");
    assert!((0.97 * bus..=bus).contains(&rate), "{rate} bytes/cycle");
}

#[test]
fn back_to_back_computes_reach_peak() {
    let mut t = Bench::new(1 << 16);
    t.ok(encode::config_ld(16, 1.0, false, 16, 0));
    t.ok(encode::config_ex(WS, 0, 0, 1.0, 1, 1, false, false, false));
    // A in bank 0, weights in bank 1: resident before the timed region.
    t.ok(encode::mvin(0, BASE, LocalAddr::spad(0), 16, 16));
    t.ok(encode::mvin(0, BASE + 256, LocalAddr::spad(4096), 16, 16));
    let tiles = 4000u64;
    let cycles = t.timed(|t| {
        for i in 0..tiles {
            let c = LocalAddr::acc(((i * 16) % 1024) as u32, false, false);
            t.ok(encode::preload(LocalAddr::spad(4096), c, 16, 16, 16, 16));
            t.ok(encode::compute(
                true,
                LocalAddr::spad(0),
                LocalAddr::garbage(),
                16,
                16,
                16,
                16,
            ));
        }
    });
    let macs_per_cycle = (tiles * 4096) as f64 / cycles as f64;
    println!("resident computes: {macs_per_cycle:.1} MACs/cycle of 256");
    assert!(
        (0.98 * 256.0..=256.0).contains(&macs_per_cycle),
        "{macs_per_cycle}"
    );
}

#[test]
fn weights_from_the_bank_of_a_halve_the_rate() {
    // One read port per bank: weights and A from bank 0 share it.
    let mut t = Bench::new(1 << 16);
    t.ok(encode::config_ld(16, 1.0, false, 16, 0));
    t.ok(encode::config_ex(WS, 0, 0, 1.0, 1, 1, false, false, false));
    t.ok(encode::mvin(0, BASE, LocalAddr::spad(0), 16, 16));
    t.ok(encode::mvin(0, BASE + 256, LocalAddr::spad(16), 16, 16));
    let cycles = t.timed(|t| {
        for _ in 0..1000 {
            t.ok(encode::preload(
                LocalAddr::spad(16),
                LocalAddr::acc(0, false, false),
                16,
                16,
                16,
                16,
            ));
            t.ok(encode::compute(
                true,
                LocalAddr::spad(0),
                LocalAddr::garbage(),
                16,
                16,
                16,
                16,
            ));
        }
    });
    let macs_per_cycle = (1000 * 4096) as f64 / cycles as f64;
    assert!(
        (120.0..=130.0).contains(&macs_per_cycle),
        "{macs_per_cycle}"
    );
}

/// Loads A and B tiles and computes on them, `tiles` times, into one
/// scratchpad region or alternating between two.
fn load_compute(regions: u32, tiles: u64) -> u64 {
    let mut t = Bench::new(1 << 20);
    t.ok(encode::config_ld(16, 1.0, false, 16, 0));
    t.ok(encode::config_ex(WS, 0, 0, 1.0, 1, 1, false, false, false));
    t.timed(|t| {
        for i in 0..tiles {
            let region = (i % u64::from(regions)) as u32;
            let a = LocalAddr::spad(region * 32);
            let b = LocalAddr::spad(4096 + region * 32);
            t.ok(encode::mvin(0, BASE + i * 512, a, 16, 16));
            t.ok(encode::mvin(0, BASE + i * 512 + 256, b, 16, 16));
            t.ok(encode::preload(
                b,
                LocalAddr::acc(0, i > 0, false),
                16,
                16,
                16,
                16,
            ));
            t.ok(encode::compute(
                true,
                a,
                LocalAddr::garbage(),
                16,
                16,
                16,
                16,
            ));
        }
    })
}

#[test]
fn one_region_serializes_two_regions_overlap() {
    let tiles = 512;
    let one = load_compute(1, tiles);
    let two = load_compute(2, tiles);
    let per_tile = |c: u64| c as f64 / tiles as f64;
    println!(
        "load+compute per tile: one region {:.1} cycles, two regions {:.1} cycles",
        per_tile(one),
        per_tile(two)
    );
    // Loading 512 bytes takes 32 cycles at 16 B/cycle; the tile computes
    // for 16. Serialized, a tile also waits for the DMA latency and the
    // array's fill and drain; overlapped, the loads are the bottleneck.
    assert!(per_tile(two) <= 34.0, "two regions: {}", per_tile(two));
    assert!(
        per_tile(one) >= 32.0 + 16.0,
        "one region: {}",
        per_tile(one)
    );
    assert!((one as f64) >= 1.4 * two as f64, "{one} vs {two}");
}
