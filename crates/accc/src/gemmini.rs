//! The Gemmini target in the driver: its instructions as tensorize
//! intrinsics (compiled from `targets/src/gemmini/intrinsics.acc` for a
//! hardware description).

use crate::passes::schedule::tensorize::{Intrinsic, IntrinsicSet};
use crate::targets::gemmini::hardware::HardwareConfig;
use crate::targets::gemmini::intrinsics::{source, INTRINSICS};
use crate::{dsl, SourceFile};
use std::sync::OnceLock;

/// Gemmini's intrinsics for `cfg`.
pub fn intrinsics(cfg: &HardwareConfig) -> Result<IntrinsicSet, String> {
    let file = SourceFile::new("<gemmini intrinsics>", source(cfg));
    let rendered = |d: Vec<crate::Diagnostic>| crate::render_diagnostics(&file, &d);
    let program = dsl::parse_and_check(&file).map_err(rendered)?;
    let module = dsl::lower::lower_program(&file, &program, None).map_err(rendered)?;
    let mut set = IntrinsicSet::default();
    for (name, kernel, spaces) in INTRINSICS {
        set.insert(Intrinsic::new(name, module.clone(), kernel, spaces)?);
    }
    Ok(set)
}

/// Gemmini's intrinsics for its default configuration, built once.
pub fn default_intrinsics() -> &'static IntrinsicSet {
    static SET: OnceLock<IntrinsicSet> = OnceLock::new();
    SET.get_or_init(|| {
        intrinsics(&HardwareConfig::default())
            .expect("the intrinsics of the default configuration compile (tested)")
    })
}

/// A kernel lowered to the Gemmini dialect, with the verdict on the
/// lowering.
pub struct Lowered {
    pub module: crate::ir::Module,
    /// Scheduled IR against the lowered IR with its instructions expanded.
    pub verdict: crate::verify::Outcome,
}

/// Lowers the scheduled `kernel` to Gemmini instructions and verifies the
/// lowering (unless `options` is `None`): the scheduled program against
/// the lowered one with every instruction replaced by what it means.
pub fn lower(
    scheduled: &crate::ir::Module,
    kernel: &str,
    intrinsics: &IntrinsicSet,
    options: Option<&crate::verify::Options>,
) -> Result<Lowered, crate::targets::gemmini::GemminiError> {
    let mut module = scheduled.clone();
    crate::targets::gemmini::lower::lower(&mut module, kernel, intrinsics)?;
    let Some(options) = options else {
        let verdict = crate::verify::Outcome::unknown("not verified (verification is off)".into());
        return Ok(Lowered { module, verdict });
    };
    let verdict = match crate::expand_all(&[scheduled, &module], intrinsics) {
        Ok(Some(expanded)) => {
            crate::fullsize::verify_lowering(&expanded[0], &expanded[1], kernel, options)
        }
        Ok(None) => crate::fullsize::verify_lowering(scheduled, &module, kernel, options),
        Err(reason) => crate::verify::Outcome::unknown(reason),
    };
    Ok(Lowered { module, verdict })
}

#[cfg(test)]
mod tests {
    #[test]
    fn intrinsics_compile_for_several_arrays() {
        use super::*;
        assert_eq!(default_intrinsics().names().count(), INTRINSICS.len());
        for dim in [4, 32] {
            let cfg = HardwareConfig::autocomp(dim, 256, 64).unwrap();
            let set = intrinsics(&cfg).unwrap();
            assert_eq!(
                set.get("gemmini.matmul").unwrap().extents,
                vec![dim as i64; 3]
            );
        }
    }
}
