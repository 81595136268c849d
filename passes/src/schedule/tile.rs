//! `io, jo, ii, ji = tile(i, j, fi, fj, tail = error|guard)`: split `i`
//! by `fi` and `j` by `fj`, then order the band `io, jo, ii, ji`.

use accc_ir::{Module, Op};

use super::loops::find_loop;
use super::reorder::reorder;
use super::split::split;
use super::{Args, ScheduleError, StepReport};

pub(crate) fn apply(
    m: &mut Module,
    func: Op,
    args: &Args,
    fp_reassoc: bool,
) -> Result<StepReport, ScheduleError> {
    args.expect(4, 4, &["tail"])?;
    let (i, j) = (
        args.name(0, "the first loop")?,
        args.name(1, "the second loop")?,
    );
    let (fi, fj) = (
        args.int(2, "the first factor")?,
        args.int(3, "the second factor")?,
    );
    let guard = args.choice("tail", &["error", "guard"], "error")? == "guard";
    for (k, f) in [(2, fi), (3, fj)] {
        if f <= 0 {
            return Err(
                ScheduleError::new(format!("tile factors must be positive, got {f}"))
                    .at(args.span(k)),
            );
        }
    }
    let li = find_loop(m, func, i).map_err(|e| e.at(args.span(0)))?;
    let lj = find_loop(m, func, j).map_err(|e| e.at(args.span(1)))?;
    if li.op == lj.op {
        return Err(ScheduleError::new(format!(
            "`tile` needs two different loops, got `{i}` twice"
        )));
    }
    let names = args.binds(vec![
        format!("{}.o", li.name),
        format!("{}.o", lj.name),
        format!("{}.i", li.name),
        format!("{}.i", lj.name),
    ])?;
    let si = split(m, &li, fi, guard, &names[0], &names[2]).map_err(|e| e.at(args.span(2)))?;
    // `j`'s op is unchanged by splitting `i` (its body moved, not copied).
    let sj = split(m, &lj, fj, guard, &names[1], &names[3]).map_err(|e| e.at(args.span(3)))?;
    let order: Vec<_> = [&names[0], &names[1], &names[2], &names[3]]
        .iter()
        .map(|n| find_loop(m, func, n))
        .collect::<Result<_, _>>()?;
    let r = reorder(m, func, &order, fp_reassoc)?;
    Ok(StepReport {
        summary: format!("{}; {}; {}", si.summary, sj.summary, r.summary),
        names,
    })
}
