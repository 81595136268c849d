/* ---- accc prelude: docs/semantics.md in C99 ---------------------------
 *
 * Build with: cc -std=c99 -O2 -ffp-contract=off -fno-fast-math ... -lm
 * (the flags are explained in targets/src/c/run.rs).
 *
 * Representation: an integer of width N (signless in the IR) is its raw bit
 * pattern in the smallest uintM_t that holds it, upper bits zero (i1 is a
 * uint8_t 0 or 1, index a uint64_t). f16 and bf16 are uint16_t bit
 * patterns; f32 and f64 are float and double. A memref is a pointer to a
 * flat row-major array.
 *
 * Nothing below relies on behaviour C leaves undefined: arithmetic wraps in
 * unsigned types, signed reads are conversions to intN_t (which GCC and
 * Clang define as modulo 2^N), shifts never reach the operand width, and an
 * out-of-range float is never converted to an integer.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Every float operation must round to its own format: no x87 excess
 * precision (FLT_EVAL_METHOD 0 holds on x86-64 with SSE2 and on AArch64). */
#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "accc: the C target needs FLT_EVAL_METHOD == 0 (no excess float precision)"
#endif
/* uint32_t arithmetic must not promote to (signed) int. */
#if UINT_MAX != 0xFFFFFFFFu
#error "accc: the C target needs a 32-bit int"
#endif

#if defined(__GNUC__)
#define ACCC_NORETURN __attribute__((noreturn, cold, noinline))
#define ACCC_UNUSED __attribute__((unused))
#else
#define ACCC_NORETURN
#define ACCC_UNUSED
#endif

/* ---- errors while running (exit status 3) ---------------------------- */

static ACCC_NORETURN ACCC_UNUSED void accc_fault_oob(const char *loc, const char *op,
                                                     unsigned dim, uint64_t index,
                                                     uint64_t size) {
  fflush(stdout);
  fprintf(stderr,
          "%s: error: out-of-bounds access: index %" PRId64 " of dimension %u is "
          "outside [0, %" PRIu64 ") in `%s`\n",
          loc, (int64_t)index, dim, size, op);
  exit(3);
}

static ACCC_NORETURN ACCC_UNUSED void accc_fault_div_by_zero(const char *loc, const char *op) {
  fflush(stdout);
  fprintf(stderr, "%s: error: division by zero in `%s`\n", loc, op);
  exit(3);
}

static ACCC_NORETURN ACCC_UNUSED void accc_fault_dead(const char *loc, const char *op) {
  fflush(stdout);
  fprintf(stderr, "%s: error: use of a deallocated buffer in `%s`\n", loc, op);
  exit(3);
}

static ACCC_NORETURN ACCC_UNUSED void accc_fault_step(const char *loc, uint64_t step) {
  fflush(stdout);
  fprintf(stderr, "%s: error: non-positive step %" PRId64 " in `scf.for`\n", loc,
          (int64_t)step);
  exit(3);
}

/* A failure of the machine rather than of the kernel: exit status 4. */
static ACCC_NORETURN ACCC_UNUSED void accc_fail(const char *what) {
  fflush(stdout);
  fprintf(stderr, "error: %s\n", what);
  exit(4);
}

/* memref.alloc: a zero-filled buffer (never NULL, so NULL can mean
 * "deallocated"). */
static ACCC_UNUSED void *accc_alloc(size_t count, size_t elem_size) {
  void *p = calloc(count == 0 ? 1 : count, elem_size);
  if (p == NULL) accc_fail("out of memory");
  return p;
}

/* ---- integers ---------------------------------------------------------- */

static inline uint64_t accc_mask(int n) {
  return n >= 64 ? UINT64_MAX : (UINT64_C(1) << n) - 1;
}

/* The N-bit pattern x read as a two's-complement number. */
static inline int64_t accc_sext(uint64_t x, int n) {
  uint64_t m;
  if (n >= 64) return (int64_t)x;
  m = UINT64_C(1) << (n - 1);
  return (int64_t)((x ^ m) - m);
}

static inline uint64_t accc_divsi(uint64_t a, uint64_t b, int n, const char *loc) {
  int64_t x, y;
  if (b == 0) accc_fault_div_by_zero(loc, "arith.divsi");
  x = accc_sext(a, n);
  y = accc_sext(b, n);
  if (y == -1) return (UINT64_C(0) - a) & accc_mask(n); /* MIN / -1 wraps to MIN */
  return (uint64_t)(x / y) & accc_mask(n);
}

static inline uint64_t accc_remsi(uint64_t a, uint64_t b, int n, const char *loc) {
  int64_t x, y;
  if (b == 0) accc_fault_div_by_zero(loc, "arith.remsi");
  x = accc_sext(a, n);
  y = accc_sext(b, n);
  if (y == -1) return 0;
  return (uint64_t)(x % y) & accc_mask(n); /* C99: the sign of the dividend */
}

static inline uint64_t accc_floordivsi(uint64_t a, uint64_t b, int n, const char *loc) {
  int64_t x, y, q;
  if (b == 0) accc_fault_div_by_zero(loc, "arith.floordivsi");
  x = accc_sext(a, n);
  y = accc_sext(b, n);
  if (y == -1) return (UINT64_C(0) - a) & accc_mask(n);
  q = x / y;
  if (x % y != 0 && ((x < 0) != (y < 0))) q -= 1;
  return (uint64_t)q & accc_mask(n);
}

static inline uint64_t accc_ceildivsi(uint64_t a, uint64_t b, int n, const char *loc) {
  int64_t x, y, q;
  if (b == 0) accc_fault_div_by_zero(loc, "arith.ceildivsi");
  x = accc_sext(a, n);
  y = accc_sext(b, n);
  if (y == -1) return (UINT64_C(0) - a) & accc_mask(n);
  q = x / y;
  if (x % y != 0 && ((x < 0) == (y < 0))) q += 1;
  return (uint64_t)q & accc_mask(n);
}

static inline uint32_t accc_divui32(uint32_t a, uint32_t b, const char *loc) {
  if (b == 0) accc_fault_div_by_zero(loc, "arith.divui");
  return a / b;
}
static inline uint32_t accc_remui32(uint32_t a, uint32_t b, const char *loc) {
  if (b == 0) accc_fault_div_by_zero(loc, "arith.remui");
  return a % b;
}
static inline uint64_t accc_divui64(uint64_t a, uint64_t b, const char *loc) {
  if (b == 0) accc_fault_div_by_zero(loc, "arith.divui");
  return a / b;
}
static inline uint64_t accc_remui64(uint64_t a, uint64_t b, const char *loc) {
  if (b == 0) accc_fault_div_by_zero(loc, "arith.remui");
  return a % b;
}

/* Shift amounts are read unsigned; shifting by N or more gives 0 (or N
 * copies of the sign bit for shrsi). */
static inline uint64_t accc_shli(uint64_t a, uint64_t b, int n) {
  return b >= (uint64_t)n ? 0 : (a << b) & accc_mask(n);
}
static inline uint64_t accc_shrui(uint64_t a, uint64_t b, int n) {
  return b >= (uint64_t)n ? 0 : a >> b;
}
static inline uint64_t accc_shrsi(uint64_t a, uint64_t b, int n) {
  uint64_t fill = ((a >> (n - 1)) & 1) ? accc_mask(n) : 0;
  if (b >= (uint64_t)n) return fill;
  return (a >> b) | (fill & ~(accc_mask(n) >> b));
}

/* abs with wrap-around: abs(MIN) = MIN. */
static inline uint64_t accc_absi(uint64_t a, int n) {
  return accc_sext(a, n) < 0 ? (UINT64_C(0) - a) & accc_mask(n) : a;
}

/* ---- affine (index) arithmetic: signed, divisors are positive constants */

static inline uint64_t accc_floordiv(uint64_t a, int64_t c) {
  int64_t x = (int64_t)a, q = x / c;
  if (x % c != 0 && x < 0) q -= 1;
  return (uint64_t)q;
}
static inline uint64_t accc_ceildiv(uint64_t a, int64_t c) {
  int64_t x = (int64_t)a, q = x / c;
  if (x % c != 0 && x > 0) q += 1;
  return (uint64_t)q;
}
static inline uint64_t accc_mod(uint64_t a, int64_t c) {
  int64_t r = (int64_t)a % c;
  return (uint64_t)(r < 0 ? r + c : r);
}
static inline uint64_t accc_smax(uint64_t a, uint64_t b) {
  return (int64_t)a > (int64_t)b ? a : b;
}
static inline uint64_t accc_smin(uint64_t a, uint64_t b) {
  return (int64_t)a < (int64_t)b ? a : b;
}
/* The next value of a loop variable i < ub, or ub itself when i + step
 * would reach or pass it, so the loop variable never overflows. */
static inline uint64_t accc_loop_next(uint64_t i, int64_t ub, int64_t step) {
  return (uint64_t)ub - i <= (uint64_t)step ? (uint64_t)ub : i + (uint64_t)step;
}

/* ---- float bits -------------------------------------------------------- */

typedef union { float f; uint32_t u; } accc_f32_pun;
typedef union { double f; uint64_t u; } accc_f64_pun;

static inline uint32_t accc_f32_bits(float f) {
  accc_f32_pun p;
  p.f = f;
  return p.u;
}
static inline float accc_f32_from_bits(uint32_t u) {
  accc_f32_pun p;
  p.u = u;
  return p.f;
}
static inline uint64_t accc_f64_bits(double f) {
  accc_f64_pun p;
  p.f = f;
  return p.u;
}
static inline double accc_f64_from_bits(uint64_t u) {
  accc_f64_pun p;
  p.u = u;
  return p.f;
}

/* ---- f16 and bf16 ------------------------------------------------------ */

/* Exact. */
static inline float accc_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu, man = h & 0x3FFu;
  float v;
  if (exp == 0x1F) return accc_f32_from_bits(sign | 0x7F800000u | (man << 13));
  if (exp != 0) return accc_f32_from_bits(sign | ((exp + 112) << 23) | (man << 13));
  v = (float)man * 0x1p-24f; /* subnormal: man * 2^-24, exact */
  return sign ? -v : v;
}

/* Exact. */
static inline float accc_bf16_to_f32(uint16_t h) {
  return accc_f32_from_bits((uint32_t)h << 16);
}

/* d rounded once, to nearest with ties to even, to the 16-bit binary format
 * with `ebits` exponent and `mbits` fraction bits: subnormals are kept,
 * overflow gives infinity, NaN stays NaN (quiet, with the top payload
 * bits). */
static inline uint16_t accc_round_to_16(double d, int ebits, int mbits) {
  uint64_t u = accc_f64_bits(d);
  uint64_t a = u & UINT64_C(0x7FFFFFFFFFFFFFFF);
  uint16_t sign = (uint16_t)((u >> 48) & 0x8000u);
  uint16_t inf = (uint16_t)(((1u << ebits) - 1) << mbits);
  int bias = (1 << (ebits - 1)) - 1, emin = 1 - bias, e, shift;
  uint64_t sig, q, rem, half, bits;
  if (a > UINT64_C(0x7FF0000000000000))
    return (uint16_t)(sign | inf | (1u << (mbits - 1)) |
                      (uint16_t)((a >> (52 - mbits)) & ((1u << mbits) - 1)));
  e = (int)(a >> 52) - 1023;
  if (e > bias) return (uint16_t)(sign | inf); /* |d| >= 2^(emax+1), or infinity */
  /* A double subnormal (or zero) is far below half the smallest subnormal. */
  if (a < UINT64_C(0x0010000000000000)) return sign;
  sig = (a & UINT64_C(0x000FFFFFFFFFFFFF)) | UINT64_C(0x0010000000000000);
  shift = 52 - mbits + (e < emin ? emin - e : 0);
  if (shift > 53) return sign; /* below half the smallest subnormal */
  q = sig >> shift;
  rem = sig & ((UINT64_C(1) << shift) - 1);
  half = UINT64_C(1) << (shift - 1);
  if (rem > half || (rem == half && (q & 1))) q += 1;
  /* Normal: the implicit bit of q adds one to the biased exponent. A carry
   * out of the fraction moves to the next binade (or to infinity). */
  bits = e < emin ? q : ((uint64_t)(e + bias - 1) << mbits) + q;
  if (bits >= inf) return (uint16_t)(sign | inf);
  return (uint16_t)(sign | bits);
}

static inline uint16_t accc_f64_to_f16(double d) { return accc_round_to_16(d, 5, 10); }
static inline uint16_t accc_f64_to_bf16(double d) { return accc_round_to_16(d, 8, 7); }
/* float -> double is exact, so these round once. */
static inline uint16_t accc_f32_to_f16(float f) { return accc_round_to_16((double)f, 5, 10); }
static inline uint16_t accc_f32_to_bf16(float f) { return accc_round_to_16((double)f, 8, 7); }

/* x as a double rounded to odd: exact up to 2^53; above, the bits that do
 * not fit are OR-ed into the last one, so one more rounding to a format of
 * at most 51 fraction bits is correctly rounded. */
static inline double accc_u64_to_f64_odd(uint64_t x) {
  int s = 0;
  uint64_t t;
  if (x < (UINT64_C(1) << 53)) return (double)x;
  while ((x >> s) >= (UINT64_C(1) << 53)) s++;
  t = (x >> s) | ((x & ((UINT64_C(1) << s) - 1)) != 0);
  return (double)t * (double)(UINT64_C(1) << s);
}
static inline double accc_s64_to_f64_odd(int64_t x) {
  uint64_t mag = x < 0 ? UINT64_C(0) - (uint64_t)x : (uint64_t)x;
  double d = accc_u64_to_f64_odd(mag);
  return x < 0 ? -d : d;
}

/* ---- float -> integer: toward zero, saturated, NaN -> 0 ----------------
 * The comparisons keep every converted value inside the target range. */
static inline uint64_t accc_fptosi(double x, int n) {
  double lim = (double)(UINT64_C(1) << (n - 1)); /* 2^(n-1), exact */
  if (x != x) return 0;
  if (x >= lim) return accc_mask(n) >> 1;             /* MAX */
  if (x <= -lim) return UINT64_C(1) << (n - 1);       /* MIN */
  return (uint64_t)(int64_t)x & accc_mask(n);
}
static inline uint64_t accc_fptoui(double x, int n) {
  double lim = 2.0 * (double)(UINT64_C(1) << (n - 1)); /* 2^n, exact */
  if (!(x >= 1.0)) return 0; /* NaN, negative, or truncates to 0 */
  if (x >= lim) return accc_mask(n);
  return (uint64_t)x;
}

/* ---- min and max: -0 < +0 ---------------------------------------------- */

static inline float accc_maximumf_f32(float a, float b) {
  if (a != a || b != b) return a + b; /* NaN */
  if (a == b) return (accc_f32_bits(a) >> 31) ? b : a;
  return a > b ? a : b;
}
static inline float accc_minimumf_f32(float a, float b) {
  if (a != a || b != b) return a + b;
  if (a == b) return (accc_f32_bits(a) >> 31) ? a : b;
  return a < b ? a : b;
}
static inline float accc_maxnumf_f32(float a, float b) {
  if (a != a) return b;
  if (b != b) return a;
  return accc_maximumf_f32(a, b);
}
static inline float accc_minnumf_f32(float a, float b) {
  if (a != a) return b;
  if (b != b) return a;
  return accc_minimumf_f32(a, b);
}
static inline double accc_maximumf_f64(double a, double b) {
  if (a != a || b != b) return a + b;
  if (a == b) return (accc_f64_bits(a) >> 63) ? b : a;
  return a > b ? a : b;
}
static inline double accc_minimumf_f64(double a, double b) {
  if (a != a || b != b) return a + b;
  if (a == b) return (accc_f64_bits(a) >> 63) ? a : b;
  return a < b ? a : b;
}
static inline double accc_maxnumf_f64(double a, double b) {
  if (a != a) return b;
  if (b != b) return a;
  return accc_maximumf_f64(a, b);
}
static inline double accc_minnumf_f64(double a, double b) {
  if (a != a) return b;
  if (b != b) return a;
  return accc_minimumf_f64(a, b);
}
