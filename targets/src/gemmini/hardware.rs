//! The Gemmini hardware description: one TOML file with the array size,
//! memory capacities and banks, element types, DMA and queue parameters
//! that the lowering (addresses, capacities) and the emulator (functional
//! and timing model) read.
//!
//! The default is Gemmini's default configuration (`default.toml`, next to
//! this file, is the single source of every default number). A user's file
//! may set any subset of keys; the rest keep their defaults. Unknown
//! sections or keys, wrong types and inconsistent values (a capacity that
//! is not a whole number of rows, a DIM that is not a power of two) are
//! errors that name the file, the key and, where TOML gives one, the line.

use serde::Deserialize;
use std::fmt;
use std::path::Path;

/// The text of the default configuration.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

/// Element types the emulator and the lowering support.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ElemType {
    Int8,
    Int32,
}

impl ElemType {
    pub fn bytes(self) -> u32 {
        match self {
            ElemType::Int8 => 1,
            ElemType::Int32 => 4,
        }
    }

    pub fn c_name(self) -> &'static str {
        match self {
            ElemType::Int8 => "int8_t",
            ElemType::Int32 => "int32_t",
        }
    }
}

/// The dataflows the array supports (Gemmini's `dataflow` parameter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dataflows {
    /// Weight-stationary only.
    Ws,
    /// Output-stationary only.
    Os,
    /// Either, chosen by each `config_ex`.
    Both,
}

impl Dataflows {
    /// Whether the array runs `flow`.
    pub fn supports(self, flow: super::isa::Dataflow) -> bool {
        use super::isa::Dataflow;
        matches!(
            (self, flow),
            (Dataflows::Both, _)
                | (Dataflows::Ws, Dataflow::WeightStationary)
                | (Dataflows::Os, Dataflow::OutputStationary)
        )
    }

    /// The TOML spelling.
    pub fn name(self) -> &'static str {
        match self {
            Dataflows::Ws => "ws",
            Dataflows::Os => "os",
            Dataflows::Both => "both",
        }
    }
}

impl fmt::Display for ElemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ElemType::Int8 => "int8",
            ElemType::Int32 => "int32",
        })
    }
}

/// Declares a configuration section twice: as the complete struct the
/// compiler uses and as a patch (every key optional) read from a user's
/// file and laid over the default.
macro_rules! sections {
    ($( $(#[$sdoc:meta])* $section:ident / $patch:ident {
        $( $(#[$fdoc:meta])* $field:ident : $ty:ty ),* $(,)?
    } )*) => {
        $(
            $(#[$sdoc])*
            #[derive(Clone, Debug, PartialEq, Deserialize, serde::Serialize)]
            #[serde(deny_unknown_fields)]
            pub struct $section { $( $(#[$fdoc])* pub $field: $ty ),* }

            #[derive(Default, Deserialize)]
            #[serde(deny_unknown_fields)]
            struct $patch { $( $field: Option<$ty> ),* }

            impl $patch {
                fn apply(self, to: &mut $section) {
                    $( if let Some(v) = self.$field { to.$field = v; } )*
                }
            }
        )*
    };
}

sections! {
    /// The systolic array.
    Array / ArrayPatch {
        /// PEs per side (Gemmini's DIM): every compute is DIM x DIM x DIM.
        dim: u32,
        /// Cycles from a tile's first row of A entering the array to its
        /// last result row committed (fill and drain).
        latency: u32,
        /// Extra cycles before a tile that does not follow the previous
        /// one back to back.
        restart: u32,
        /// The fewest rows a tile streams, however few it computes.
        min_rows: u32,
        /// The dataflows `config_ex` may select: `ws`, `os` or `both`.
        dataflow: Dataflows,
    }
    /// Element types.
    Types / TypesPatch {
        /// Inputs and weights (`elem_t`).
        input: ElemType,
        /// Accumulator entries (`acc_t`).
        accumulator: ElemType,
    }
    /// A banked on-chip memory (scratchpad or accumulator).
    Memory / MemoryPatch {
        /// Capacity in KiB.
        kib: u32,
        /// Number of banks; rows are split evenly between them.
        banks: u32,
    }
    /// The DMA engines between DRAM (the L2) and the local memories.
    Dma / DmaPatch {
        /// Bytes per beat; one beat per cycle per direction.
        bus_bytes: u32,
        /// The largest single memory request in bytes (a cache block).
        max_bytes: u32,
        /// Cycles from issuing a read request to its data.
        latency: u32,
        /// Cycles from a mvout's start to its first write request.
        store_latency: u32,
        /// Requests in flight at once per direction.
        in_flight: u32,
    }
    /// Reservation-station entries per controller.
    Queues / QueuesPatch {
        load: u32,
        execute: u32,
        store: u32,
    }
    /// The core that issues RoCC commands.
    Cpu / CpuPatch {
        /// Cycles between two commands issued back to back.
        issue_cycles: u32,
    }
}

/// A complete, validated Gemmini configuration.
#[derive(Clone, Debug, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct HardwareConfig {
    pub array: Array,
    pub types: Types,
    pub scratchpad: Memory,
    pub accumulator: Memory,
    pub dma: Dma,
    pub reservation_station: Queues,
    pub cpu: Cpu,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigPatch {
    #[serde(default)]
    array: Option<ArrayPatch>,
    #[serde(default)]
    types: Option<TypesPatch>,
    #[serde(default)]
    scratchpad: Option<MemoryPatch>,
    #[serde(default)]
    accumulator: Option<MemoryPatch>,
    #[serde(default)]
    dma: Option<DmaPatch>,
    #[serde(default)]
    reservation_station: Option<QueuesPatch>,
    #[serde(default)]
    cpu: Option<CpuPatch>,
}

/// A configuration file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum HardwareError {
    #[error("cannot read the hardware description {path}: {error}")]
    Io {
        path: String,
        #[source]
        error: std::io::Error,
    },
    /// TOML syntax, an unknown key or a wrong type; toml's message carries
    /// the line, the column and the offending text.
    #[error("hardware description {path}: {message}")]
    Syntax { path: String, message: String },
    /// A value the hardware cannot have.
    #[error("hardware description {path}: `{key} = {value}`: {reason}")]
    Invalid {
        path: String,
        key: &'static str,
        value: String,
        reason: String,
    },
}

impl Default for HardwareConfig {
    fn default() -> Self {
        HardwareConfig::from_toml(DEFAULT_TOML, "default.toml")
            .expect("default.toml parses and validates (tested by `default_is_gemmini_default`)")
    }
}

impl HardwareConfig {
    /// Reads a configuration file laid over the default.
    pub fn load(path: &Path) -> Result<HardwareConfig, HardwareError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| HardwareError::Io {
            path: shown.clone(),
            error,
        })?;
        let mut cfg = HardwareConfig::default();
        cfg.patch(&text, &shown)?;
        Ok(cfg)
    }

    /// Parses a complete configuration (every section and key present).
    pub fn from_toml(text: &str, path: &str) -> Result<HardwareConfig, HardwareError> {
        let cfg: HardwareConfig = toml::from_str(text).map_err(|e| HardwareError::Syntax {
            path: path.to_string(),
            message: e.to_string(),
        })?;
        cfg.validate(path)?;
        Ok(cfg)
    }

    /// Lays the keys of `text` over `self` and validates the result.
    pub fn patch(&mut self, text: &str, path: &str) -> Result<(), HardwareError> {
        let patch: ConfigPatch = toml::from_str(text).map_err(|e| HardwareError::Syntax {
            path: path.to_string(),
            message: e.to_string(),
        })?;
        let mut next = self.clone();
        patch.array.unwrap_or_default().apply(&mut next.array);
        patch.types.unwrap_or_default().apply(&mut next.types);
        patch
            .scratchpad
            .unwrap_or_default()
            .apply(&mut next.scratchpad);
        patch
            .accumulator
            .unwrap_or_default()
            .apply(&mut next.accumulator);
        patch.dma.unwrap_or_default().apply(&mut next.dma);
        let queues = patch.reservation_station.unwrap_or_default();
        queues.apply(&mut next.reservation_station);
        patch.cpu.unwrap_or_default().apply(&mut next.cpu);
        next.validate(path)?;
        *self = next;
        Ok(())
    }

    /// Autocomp's `GemminiHardwareConfig(pe_dim, spad_size_kb, acc_size_kb)`
    /// on top of the default.
    pub fn autocomp(pe_dim: u32, spad_kib: u32, acc_kib: u32) -> Result<Self, HardwareError> {
        let mut cfg = HardwareConfig::default();
        cfg.array.dim = pe_dim;
        cfg.array.latency = 3 * pe_dim + 3;
        cfg.scratchpad.kib = spad_kib;
        cfg.accumulator.kib = acc_kib;
        cfg.validate("GemminiHardwareConfig")?;
        Ok(cfg)
    }

    fn validate(&self, path: &str) -> Result<(), HardwareError> {
        let bad = |key: &'static str, value: u32, reason: &str| HardwareError::Invalid {
            path: path.to_string(),
            key,
            value: value.to_string(),
            reason: reason.to_string(),
        };
        let dim = self.array.dim;
        if !(2..=128).contains(&dim) || !dim.is_power_of_two() {
            return Err(bad(
                "array.dim",
                dim,
                "DIM must be a power of two from 2 to 128",
            ));
        }
        if self.types.input != ElemType::Int8 {
            return Err(HardwareError::Invalid {
                path: path.to_string(),
                key: "types.input",
                value: format!("\"{}\"", self.types.input),
                reason: "the emulator models int8 inputs only".into(),
            });
        }
        if self.types.accumulator != ElemType::Int32 {
            return Err(HardwareError::Invalid {
                path: path.to_string(),
                key: "types.accumulator",
                value: format!("\"{}\"", self.types.accumulator),
                reason: "the emulator models int32 accumulators only".into(),
            });
        }
        for (kib_key, banks_key, mem, row_bytes) in [
            (
                "scratchpad.kib",
                "scratchpad.banks",
                &self.scratchpad,
                self.spad_row_bytes(),
            ),
            (
                "accumulator.kib",
                "accumulator.banks",
                &self.accumulator,
                self.acc_row_bytes(),
            ),
        ] {
            if mem.banks == 0 {
                return Err(bad(banks_key, 0, "a memory needs at least one bank"));
            }
            let bytes = u64::from(mem.kib) * 1024;
            if mem.kib == 0 || mem.kib > 1 << 20 || bytes % u64::from(row_bytes) != 0 {
                return Err(bad(
                    kib_key,
                    mem.kib,
                    &format!("the capacity must be a whole number of {row_bytes}-byte rows, at most 1 GiB"),
                ));
            }
            let rows = bytes / u64::from(row_bytes);
            if rows % u64::from(mem.banks) != 0 {
                return Err(bad(
                    banks_key,
                    mem.banks,
                    &format!("{rows} rows do not split evenly into banks"),
                ));
            }
        }
        // Row indices must leave the three flag bits of a local address free.
        if self.spad_rows() >= 1 << 29 || self.acc_rows() >= 1 << 29 {
            return Err(bad(
                "scratchpad.kib",
                self.scratchpad.kib,
                "too many rows for a 29-bit row index",
            ));
        }
        let dma = &self.dma;
        if dma.bus_bytes == 0 || !dma.bus_bytes.is_power_of_two() {
            return Err(bad(
                "dma.bus_bytes",
                dma.bus_bytes,
                "must be a power of two",
            ));
        }
        if dma.max_bytes < dma.bus_bytes || !dma.max_bytes.is_power_of_two() {
            return Err(bad(
                "dma.max_bytes",
                dma.max_bytes,
                "must be a power of two, at least dma.bus_bytes",
            ));
        }
        if dma.in_flight == 0 {
            return Err(bad(
                "dma.in_flight",
                0,
                "at least one request must be in flight",
            ));
        }
        let q = &self.reservation_station;
        for (key, n) in [
            ("reservation_station.load", q.load),
            ("reservation_station.execute", q.execute),
            ("reservation_station.store", q.store),
        ] {
            if n == 0 {
                return Err(bad(key, 0, "a controller needs at least one entry"));
            }
        }
        Ok(())
    }

    pub fn dim(&self) -> u32 {
        self.array.dim
    }

    /// Bytes of one scratchpad row (DIM inputs).
    pub fn spad_row_bytes(&self) -> u32 {
        self.array.dim * self.types.input.bytes()
    }

    /// Bytes of one accumulator row (DIM accumulator entries).
    pub fn acc_row_bytes(&self) -> u32 {
        self.array.dim * self.types.accumulator.bytes()
    }

    pub fn spad_rows(&self) -> u32 {
        (u64::from(self.scratchpad.kib) * 1024 / u64::from(self.spad_row_bytes())) as u32
    }

    pub fn acc_rows(&self) -> u32 {
        (u64::from(self.accumulator.kib) * 1024 / u64::from(self.acc_row_bytes())) as u32
    }

    pub fn spad_bank_rows(&self) -> u32 {
        self.spad_rows() / self.scratchpad.banks
    }

    /// Blocks of DIM columns one mvin into the scratchpad may carry
    /// (Gemmini's MAX_BLOCK_LEN), at least one.
    pub fn max_block_len(&self) -> u32 {
        (self.dma.max_bytes / self.spad_row_bytes()).max(1)
    }

    /// The same for a full-width mvin into the accumulator
    /// (MAX_BLOCK_LEN_ACC).
    pub fn max_block_len_acc(&self) -> u32 {
        (self.dma.max_bytes / self.acc_row_bytes()).max(1)
    }

    /// Peak multiply-accumulates per cycle (DIM^2).
    pub fn peak_macs_per_cycle(&self) -> u64 {
        u64::from(self.array.dim) * u64::from(self.array.dim)
    }

    /// `gemmini_params.h` for this configuration: the constants and types
    /// Gemmini's C API and programs written against it use.
    pub fn params_header(&self) -> String {
        format!(
            "/* gemmini_params.h generated by accc from the hardware description. */\n\
             #ifndef GEMMINI_PARAMS_H\n#define GEMMINI_PARAMS_H\n\
             #include <stdint.h>\n#include <limits.h>\n\n\
             #define XCUSTOM_ACC 3\n#define DIM {dim}\n#define ADDR_LEN 32\n\
             #define BANK_NUM {banks}\n#define BANK_ROWS {bank_rows}\n#define ACC_ROWS {acc_rows}\n\
             #define MAX_BYTES {max_bytes}\n#define MAX_BLOCK_LEN {mbl}\n#define MAX_BLOCK_LEN_ACC {mbla}\n\n\
             typedef {elem} elem_t;\nstatic const elem_t elem_t_max = 127;\nstatic const elem_t elem_t_min = -128;\n\
             typedef {acc} acc_t;\ntypedef int64_t full_t;\n\n\
             #define HAS_MVIN_SCALE\ntypedef float scale_t;\ntypedef uint32_t scale_t_bits;\n\
             typedef int32_t scale_acc_t;\ntypedef uint32_t scale_acc_t_bits;\n\
             typedef float acc_scale_t;\ntypedef uint32_t acc_scale_t_bits;\n\n\
             #define row_align(blocks) __attribute__((aligned((blocks)*DIM*sizeof(elem_t))))\n\
             #define row_align_acc(blocks) __attribute__((aligned((blocks)*DIM*sizeof(acc_t))))\n\n\
             #define MVIN_SCALE_IDENTITY 1.0\n#define ACC_SCALE_IDENTITY 1.0\n\
             #define ACC_SCALE_T_IS_FLOAT\n#define ACC_READ_SMALL_WIDTH\n\n#endif\n",
            dim = self.array.dim,
            banks = self.scratchpad.banks,
            bank_rows = self.spad_bank_rows(),
            acc_rows = self.acc_rows(),
            max_bytes = self.dma.max_bytes,
            mbl = self.max_block_len(),
            mbla = self.max_block_len_acc(),
            elem = self.types.input.c_name(),
            acc = self.types.accumulator.c_name(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_gemmini_default() {
        let cfg = HardwareConfig::default();
        assert_eq!(cfg.dim(), 16);
        assert_eq!(cfg.spad_rows(), 16384);
        assert_eq!(cfg.spad_bank_rows(), 4096);
        assert_eq!(cfg.acc_rows(), 1024);
        assert_eq!(cfg.max_block_len(), 4);
        assert_eq!(cfg.max_block_len_acc(), 1);
        assert_eq!(cfg.peak_macs_per_cycle(), 256);
    }

    #[test]
    fn a_patch_keeps_the_other_defaults() {
        let mut cfg = HardwareConfig::default();
        cfg.patch("[array]\ndim = 32\n[scratchpad]\nkib = 128\n", "big.toml")
            .unwrap();
        assert_eq!(cfg.dim(), 32);
        assert_eq!(cfg.spad_rows(), 128 * 1024 / 32);
        assert_eq!(cfg.accumulator.kib, 64);
        assert_eq!(cfg.dma.in_flight, 16);
    }

    #[test]
    fn autocomp_knobs() {
        let cfg = HardwareConfig::autocomp(4, 256, 64).unwrap();
        assert_eq!(
            (cfg.dim(), cfg.spad_rows(), cfg.acc_rows()),
            (4, 65536, 4096)
        );
        assert!(HardwareConfig::autocomp(12, 256, 64).is_err());
    }

    #[test]
    fn errors_name_the_key_and_line() {
        let mut cfg = HardwareConfig::default();
        let e = cfg
            .patch("[array]\ndim = 16\nrows = 3\n", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("x.toml") && e.contains("line 3") && e.contains("rows"),
            "{e}"
        );
        let e = cfg
            .patch("[array]\ndim = 12\n", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`array.dim = 12`") && e.contains("power of two"),
            "{e}"
        );
        let e = cfg
            .patch("[dma]\nlatency = \"fast\"\n", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2"), "{e}");
        let e = cfg
            .patch("[scratchpad]\nkib = 1\nbanks = 3\n", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("scratchpad.banks"), "{e}");
        let e = cfg
            .patch("[types]\ninput = \"fp32\"\n", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.toml"), "{e}");
        let e = cfg.patch("[gpu]\n", "x.toml").unwrap_err().to_string();
        assert!(e.contains("gpu"), "{e}");
        // A failed patch leaves the configuration as it was.
        assert_eq!(cfg, HardwareConfig::default());
    }
}
