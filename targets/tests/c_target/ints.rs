//! Integer rules: wrap-around, division, shifts, signed and unsigned reads.

use crate::support::{assert_bits, run_elementwise, Input};

fn binary_ops(ty: &str, ops: &[&str]) -> Vec<(String, String)> {
    ops.iter()
        .map(|op| {
            let text = match *op {
                "slt" | "ult" => format!("arith.cmpi {op}, %a, %b : {ty}"),
                "absi" => format!("math.absi %a : {ty}"),
                _ => format!("arith.{op} %a, %b : {ty}"),
            };
            (op.to_string(), text)
        })
        .collect()
}

fn check(ty: &str, a: Vec<u64>, b: Vec<u64>, expected: &[(&str, Vec<u64>)]) {
    let ops: Vec<&str> = expected.iter().map(|(op, _)| *op).collect();
    let texts = binary_ops(ty, &ops);
    let outputs: Vec<(&str, &str, &str)> = texts
        .iter()
        .map(|(op, text)| {
            let out_ty = if matches!(op.as_str(), "slt" | "ult") {
                "i1"
            } else {
                ty
            };
            (op.as_str(), out_ty, text.as_str())
        })
        .collect();
    let got = run_elementwise(&[("a", ty, a), ("b", ty, b)], &outputs);
    for (op, want) in expected {
        assert_bits(&format!("{ty} {op}"), &got[*op], want);
    }
}

#[test]
fn i8_wraps_and_reads_signed_or_unsigned_as_the_op_says() {
    // a = 127, -128, 100, -1, -56 (200 unsigned); b = 1, -1, 3, -1, -56.
    check(
        "i8",
        vec![0x7f, 0x80, 0x64, 0xff, 0xc8],
        vec![0x01, 0xff, 0x03, 0xff, 0xc8],
        &[
            ("addi", vec![0x80, 0x7f, 0x67, 0xfe, 0x90]),
            ("subi", vec![0x7e, 0x81, 0x61, 0x00, 0x00]),
            ("muli", vec![0x7f, 0x80, 0x2c, 0x01, 0x40]),
            ("divsi", vec![0x7f, 0x80, 0x21, 0x01, 0x01]),
            ("remsi", vec![0x00, 0x00, 0x01, 0x00, 0x00]),
            ("ceildivsi", vec![0x7f, 0x80, 0x22, 0x01, 0x01]),
            ("divui", vec![0x7f, 0x00, 0x21, 0x01, 0x01]),
            ("remui", vec![0x00, 0x80, 0x01, 0x00, 0x00]),
            ("maxsi", vec![0x7f, 0xff, 0x64, 0xff, 0xc8]),
            ("minsi", vec![0x01, 0x80, 0x03, 0xff, 0xc8]),
            ("maxui", vec![0x7f, 0xff, 0x64, 0xff, 0xc8]),
            ("minui", vec![0x01, 0x80, 0x03, 0xff, 0xc8]),
            ("shli", vec![0xfe, 0x00, 0x20, 0x00, 0x00]),
            ("shrsi", vec![0x3f, 0xff, 0x0c, 0xff, 0xff]),
            ("shrui", vec![0x3f, 0x00, 0x0c, 0x00, 0x00]),
            ("absi", vec![0x7f, 0x80, 0x64, 0x01, 0x38]),
            ("slt", vec![0, 1, 0, 0, 0]),
            ("ult", vec![0, 1, 0, 0, 0]),
        ],
    );
}

#[test]
fn i16_products_do_not_overflow_int() {
    // uint16_t * uint16_t promotes to int: 0xffff * 0xffff would overflow.
    check(
        "i16",
        vec![0xffff, 300, 0x7fff],
        vec![0xffff, 300, 2],
        &[
            ("muli", vec![0x0001, 0x5f90, 0xfffe]),
            ("addi", vec![0xfffe, 0x0258, 0x8001]),
        ],
    );
}

#[test]
fn i32_division_rounds_as_documented_and_shifts_saturate() {
    // a = MIN, 7, -7, -7, 7, 1, -8, MIN; b = -1, -2, 2, -2, 2, 31, 1, 31.
    let m = |x: i64| (x as u64) & 0xffff_ffff;
    check(
        "i32",
        [i32::MIN as i64, 7, -7, -7, 7, 1, -8, i32::MIN as i64]
            .map(m)
            .to_vec(),
        [-1, -2, 2, -2, 2, 31, 1, 31].map(m).to_vec(),
        &[
            (
                "divsi",
                vec![
                    0x80000000, 0xfffffffd, 0xfffffffd, 0x3, 0x3, 0x0, 0xfffffff8, 0xfbdef7be,
                ],
            ),
            (
                "remsi",
                vec![0x0, 0x1, 0xffffffff, 0xffffffff, 0x1, 0x1, 0x0, 0xfffffffe],
            ),
            (
                "floordivsi",
                vec![
                    0x80000000, 0xfffffffc, 0xfffffffc, 0x3, 0x3, 0x0, 0xfffffff8, 0xfbdef7bd,
                ],
            ),
            (
                "ceildivsi",
                vec![
                    0x80000000, 0xfffffffd, 0xfffffffd, 0x4, 0x4, 0x1, 0xfffffff8, 0xfbdef7be,
                ],
            ),
            (
                "divui",
                vec![0x0, 0x0, 0x7ffffffc, 0x0, 0x3, 0x0, 0xfffffff8, 0x4210842],
            ),
            (
                "remui",
                vec![0x80000000, 0x7, 0x1, 0xfffffff9, 0x1, 0x1, 0x0, 0x2],
            ),
            (
                "shli",
                vec![0x0, 0x0, 0xffffffe4, 0x0, 0x1c, 0x80000000, 0xfffffff0, 0x0],
            ),
            (
                "shrsi",
                vec![
                    0xffffffff, 0x0, 0xfffffffe, 0xffffffff, 0x1, 0x0, 0xfffffffc, 0xffffffff,
                ],
            ),
            (
                "shrui",
                vec![0x0, 0x0, 0x3ffffffe, 0x0, 0x1, 0x0, 0x7ffffffc, 0x1],
            ),
            (
                "absi",
                vec![0x80000000, 0x7, 0x7, 0x7, 0x7, 0x1, 0x8, 0x80000000],
            ),
            (
                "muli",
                vec![
                    0x80000000, 0xfffffff2, 0xfffffff2, 0xe, 0xe, 0x1f, 0xfffffff8, 0x80000000,
                ],
            ),
            (
                "addi",
                vec![
                    0x7fffffff, 0x5, 0xfffffffb, 0xfffffff7, 0x9, 0x20, 0xfffffff9, 0x8000001f,
                ],
            ),
            (
                "subi",
                vec![
                    0x80000001, 0x9, 0xfffffff7, 0xfffffffb, 0x5, 0xffffffe2, 0xfffffff7,
                    0x7fffffe1,
                ],
            ),
            (
                "maxsi",
                vec![0xffffffff, 0x7, 0x2, 0xfffffffe, 0x7, 0x1f, 0x1, 0x1f],
            ),
            (
                "minui",
                vec![0x80000000, 0x7, 0x2, 0xfffffff9, 0x2, 0x1, 0x1, 0x1f],
            ),
            ("slt", vec![1, 0, 1, 1, 0, 1, 1, 1]),
            ("ult", vec![1, 1, 0, 1, 0, 1, 0, 0]),
        ],
    );
}

#[test]
fn i64_min_over_minus_one_wraps() {
    check(
        "i64",
        vec![1 << 63, 1 << 62, (-7i64) as u64],
        vec![u64::MAX, 4, 2],
        &[
            ("divsi", vec![1 << 63, 1 << 60, (-3i64) as u64]),
            ("remsi", vec![0, 0, u64::MAX]),
            ("floordivsi", vec![1 << 63, 1 << 60, (-4i64) as u64]),
            ("muli", vec![1 << 63, 0, (-14i64) as u64]),
        ],
    );
}

#[test]
fn odd_widths_are_masked() {
    // i8 -> i4 -> arithmetic -> i8: 7 + 1 = -8 in i4, 7 * 7 = 49 = 1 (mod 16),
    // -8 >> 1 = -4 (arithmetic), 15 (unsigned) > 1.
    let outputs = [
        ("add", "i8", "arith.extsi %s4 : i4 to i8"),
        ("mul", "i8", "arith.extsi %p4 : i4 to i8"),
        ("shr", "i8", "arith.extsi %h4 : i4 to i8"),
        ("umax", "i8", "arith.extui %u4 : i4 to i8"),
    ];
    let text = crate::support::elementwise(2, &[("a", "i8"), ("b", "i8")], &outputs).replace(
        "      %r_add",
        "      %a4 = arith.trunci %a : i8 to i4\n      %b4 = arith.trunci %b : i8 to i4\n      %s4 = arith.addi %a4, %b4 : i4\n      %p4 = arith.muli %a4, %a4 : i4\n      %h4 = arith.shrsi %s4, %b4 : i4\n      %u4 = arith.maxui %a4, %s4 : i4\n      %r_add",
    );
    let module = crate::support::ir(&text);
    let ran = crate::support::run(
        &module,
        "k",
        &[
            Input {
                name: "a",
                descr: "|i1",
                shape: vec![2],
                data: vec![7, 0xff],
            },
            Input {
                name: "b",
                descr: "|i1",
                shape: vec![2],
                data: vec![1, 1],
            },
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // a = 7, -1 (i4: 0b0111, 0b1111); b = 1, 1.
    assert_eq!(ran.outputs["add"].data, vec![0xf8, 0x00]);
    assert_eq!(ran.outputs["mul"].data, vec![0x01, 0x01]);
    assert_eq!(ran.outputs["shr"].data, vec![0xfc, 0x00]);
    assert_eq!(ran.outputs["umax"].data, vec![0x08, 0x0f]);
}
