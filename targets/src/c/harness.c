/* ---- the harness: .npy inputs and outputs ------------------------------
 *
 * `prog INPUT_DIR OUTPUT_DIR` reads every input parameter from
 * INPUT_DIR/<name>.npy, runs the kernel once and writes every output to
 * OUTPUT_DIR/<name>.npy. Exit status: 0 success, 2 a bad input file, 3 an
 * error of the kernel (see the prelude), 4 anything else.
 */

/* One kernel parameter as the harness sees it. */
typedef struct {
  const char *name;      /* the file is <dir>/<name>.npy */
  const char *dtype;     /* accc's element type, for messages */
  const char *descr;     /* NumPy's descriptor, as written (`<f4`) */
  const char *code;      /* its kind and size (`f4`), any byte order is read */
  const char *alt_code;  /* another accepted kind and size, or NULL */
  int rank;
  const uint64_t *shape;
  size_t elem_size;
  int is_bool; /* `|b1`: every byte must be 0 or 1 */
} accc_param;

#define ACCC_MAX_RANK 64

#if defined(__GNUC__)
#define ACCC_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define ACCC_PRINTF(f, a)
#endif

/* A problem with an input file: `PATH: message` on stderr, exit status 2. */
static ACCC_NORETURN ACCC_UNUSED ACCC_PRINTF(2, 3) void accc_bad_input(const char *path,
                                                                       const char *fmt, ...) {
  va_list args;
  fflush(stdout);
  fprintf(stderr, "%s: ", path);
  va_start(args, fmt);
  vfprintf(stderr, fmt, args);
  va_end(args);
  fprintf(stderr, "\n");
  exit(2);
}

static ACCC_UNUSED void accc_path(char *out, size_t cap, const char *dir, const char *name) {
  int n = snprintf(out, cap, "%s/%s.npy", dir, name);
  if (n < 0 || (size_t)n >= cap) accc_fail("path too long");
}

/* `(3, 4)`, `(5,)`, `()` as Python prints a shape tuple. */
static ACCC_UNUSED void accc_shape_repr(char *out, size_t cap, const uint64_t *shape, int rank) {
  size_t len = 0;
  int i;
  out[0] = '\0';
  len += (size_t)snprintf(out + len, cap - len, "(");
  for (i = 0; i < rank && len < cap; i++)
    len += (size_t)snprintf(out + len, cap - len, "%s%" PRIu64, i ? ", " : "", shape[i]);
  if (len < cap) snprintf(out + len, cap - len, rank == 1 ? ",)" : ")");
}

/* A cursor over the header dictionary. */
typedef struct {
  const char *p, *end;
} accc_cursor;

static ACCC_UNUSED void accc_skip_ws(accc_cursor *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
    c->p++;
}

static ACCC_UNUSED int accc_eat(accc_cursor *c, char ch) {
  accc_skip_ws(c);
  if (c->p < c->end && *c->p == ch) {
    c->p++;
    return 1;
  }
  return 0;
}

/* A quoted Python string into out (truncated to cap - 1). */
static ACCC_UNUSED int accc_parse_str(accc_cursor *c, char *out, size_t cap) {
  char q;
  size_t n = 0;
  accc_skip_ws(c);
  if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return 0;
  q = *c->p++;
  while (c->p < c->end && *c->p != q) {
    if (n + 1 < cap) out[n++] = *c->p;
    c->p++;
  }
  out[n] = '\0';
  if (c->p >= c->end) return 0;
  c->p++;
  return 1;
}

static ACCC_UNUSED int accc_parse_word(accc_cursor *c, const char *w) {
  size_t n = strlen(w);
  accc_skip_ws(c);
  if ((size_t)(c->end - c->p) >= n && memcmp(c->p, w, n) == 0) {
    c->p += n;
    return 1;
  }
  return 0;
}

/* Does the descriptor d spell the parameter's element type? Sets *big for
 * big-endian data. `<`, `>` and `=` (native: little) are accepted for every
 * type, `|` for one-byte types and raw `V2`. */
static ACCC_UNUSED int accc_descr_matches(const char *d, const accc_param *prm, int *big) {
  const char *code = d + 1;
  if (d[0] == '\0') return 0;
  if (strcmp(code, prm->code) != 0 && (prm->alt_code == NULL || strcmp(code, prm->alt_code) != 0))
    return 0;
  *big = d[0] == '>';
  if (d[0] == '<' || d[0] == '>' || d[0] == '=') return 1;
  return d[0] == '|' && (prm->elem_size == 1 || strcmp(code, "V2") == 0);
}

/* Reads and checks one input file into data (elem_size * count bytes). */
static ACCC_UNUSED void accc_read_input(const char *dir, const accc_param *prm, void *data) {
  char path[4096], descr[64], key[64], got_shape[2048], want_shape[2048], buf[4200];
  unsigned char pre[12];
  uint64_t shape[ACCC_MAX_RANK], count = 1, bytes;
  int rank = 0, have_descr = 0, have_order = 0, have_shape = 0, fortran = 0, big = 0, i;
  unsigned major;
  uint32_t hlen;
  char *header;
  accc_cursor c;
  FILE *f;

  accc_path(path, sizeof path, dir, prm->name);
  f = fopen(path, "rb");
  if (f == NULL) accc_bad_input(path, "cannot open the input file for `%s`: %s", prm->name, strerror(errno));
  if (fread(pre, 1, 8, f) != 8 || memcmp(pre, "\x93NUMPY", 6) != 0)
    accc_bad_input(path, "not a .npy file (the magic string `\\x93NUMPY` is missing)");
  major = pre[6];
  if (major < 1 || major > 3) {
    snprintf(buf, sizeof buf, "%u.%u", major, (unsigned)pre[7]);
    accc_bad_input(path, "unsupported .npy format version %s (1.0, 2.0 and 3.0 are supported)", buf);
  }
  if (major == 1) {
    if (fread(pre + 8, 1, 2, f) != 2) accc_bad_input(path, "truncated header");
    hlen = (uint32_t)pre[8] | ((uint32_t)pre[9] << 8);
  } else {
    if (fread(pre + 8, 1, 4, f) != 4) accc_bad_input(path, "truncated header");
    hlen = (uint32_t)pre[8] | ((uint32_t)pre[9] << 8) | ((uint32_t)pre[10] << 16) |
           ((uint32_t)pre[11] << 24);
  }
  if (hlen > (UINT32_C(1) << 24)) accc_bad_input(path, "header too long");
  header = (char *)malloc(hlen + 1);
  if (header == NULL) accc_fail("out of memory");
  if (fread(header, 1, hlen, f) != hlen) accc_bad_input(path, "truncated header");
  header[hlen] = '\0';

  c.p = header;
  c.end = header + hlen;
  if (!accc_eat(&c, '{')) accc_bad_input(path, "malformed header: expected a dictionary");
  while (!accc_eat(&c, '}')) {
    if (!accc_parse_str(&c, key, sizeof key) || !accc_eat(&c, ':'))
      accc_bad_input(path, "malformed header: expected a quoted key and `:`");
    if (strcmp(key, "descr") == 0) {
      if (!accc_parse_str(&c, descr, sizeof descr))
        accc_bad_input(path, "malformed header: `descr` must be a string");
      have_descr = 1;
    } else if (strcmp(key, "fortran_order") == 0) {
      if (accc_parse_word(&c, "False")) fortran = 0;
      else if (accc_parse_word(&c, "True")) fortran = 1;
      else accc_bad_input(path, "malformed header: `fortran_order` must be True or False");
      have_order = 1;
    } else if (strcmp(key, "shape") == 0) {
      if (!accc_eat(&c, '('))
        accc_bad_input(path, "malformed header: `shape` must be a tuple");
      while (!accc_eat(&c, ')')) {
        uint64_t v = 0;
        int digits = 0;
        accc_skip_ws(&c);
        while (c.p < c.end && *c.p >= '0' && *c.p <= '9') {
          if (v > (UINT64_C(1) << 56)) accc_bad_input(path, "malformed header: dimension too large");
          v = v * 10 + (uint64_t)(*c.p - '0');
          c.p++;
          digits++;
        }
        if (c.p < c.end && *c.p == 'L') c.p++;
        if (digits == 0 || rank == ACCC_MAX_RANK)
          accc_bad_input(path, "malformed header: bad `shape` tuple");
        shape[rank++] = v;
        if (!accc_eat(&c, ',')) {
          if (!accc_eat(&c, ')')) accc_bad_input(path, "malformed header: bad `shape` tuple");
          break;
        }
      }
      have_shape = 1;
    } else {
      accc_bad_input(path, "malformed header: unexpected key `%s`", key);
    }
    if (!accc_eat(&c, ',')) {
      if (!accc_eat(&c, '}')) accc_bad_input(path, "malformed header: expected `,` or `}`");
      break;
    }
  }
  free(header);
  if (!have_descr || !have_order || !have_shape)
    accc_bad_input(path, "malformed header: `descr`, `fortran_order` and `shape` are required");

  if (!accc_descr_matches(descr, prm, &big)) {
    snprintf(buf, sizeof buf, "`%s` is %s, which is stored as '%s'", prm->name, prm->dtype, prm->descr);
    accc_bad_input(path, "element type '%s' does not match: %s", descr, buf);
  }
  if (fortran) accc_bad_input(path, "Fortran-order arrays are not supported (save it in C order)");
  accc_shape_repr(got_shape, sizeof got_shape, shape, rank);
  accc_shape_repr(want_shape, sizeof want_shape, prm->shape, prm->rank);
  if (rank != prm->rank || memcmp(shape, prm->shape, sizeof(uint64_t) * (size_t)rank) != 0) {
    snprintf(buf, sizeof buf, "`%s` has shape %s", prm->name, want_shape);
    accc_bad_input(path, "shape %s does not match: %s", got_shape, buf);
  }
  for (i = 0; i < rank; i++) count *= shape[i];
  bytes = count * prm->elem_size;
  if (bytes > 0 && fread(data, 1, (size_t)bytes, f) != bytes) {
    snprintf(buf, sizeof buf, "%" PRIu64 " bytes for shape %s", bytes, want_shape);
    accc_bad_input(path, "truncated data: expected %s", buf);
  }
  if (fgetc(f) != EOF) {
    snprintf(buf, sizeof buf, "%" PRIu64 " bytes for shape %s", bytes, want_shape);
    accc_bad_input(path, "trailing data after the expected %s", buf);
  }
  fclose(f);
  if (big && prm->elem_size > 1) {
    unsigned char *d = (unsigned char *)data, t;
    uint64_t k;
    size_t a, b;
    for (k = 0; k < count; k++)
      for (a = 0, b = prm->elem_size - 1; a < b; a++, b--) {
        t = d[k * prm->elem_size + a];
        d[k * prm->elem_size + a] = d[k * prm->elem_size + b];
        d[k * prm->elem_size + b] = t;
      }
  }
  if (prm->is_bool) {
    const unsigned char *d = (const unsigned char *)data;
    uint64_t k;
    for (k = 0; k < count; k++)
      if (d[k] > 1) accc_bad_input(path, "a boolean element is neither 0 nor 1");
  }
}

/* Writes data as NumPy 1.x does (`np.save`): version 1.0, the dictionary
 * with sorted keys, spare room for the first axis to grow to 21 digits, and
 * spaces up to a multiple of 64 bytes, ending in a newline. */
static ACCC_UNUSED void accc_write_output(const char *dir, const accc_param *prm, const void *data) {
  char path[4096], shape[2048], dict[4096], msg[4200];
  unsigned char pre[10];
  size_t len, total, pad, k;
  uint64_t count = 1, bytes;
  int i;
  FILE *f;

  accc_path(path, sizeof path, dir, prm->name);
  accc_shape_repr(shape, sizeof shape, prm->shape, prm->rank);
  len = (size_t)snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                         prm->descr, shape);
  if (prm->rank > 0) {
    char first[32];
    size_t digits = (size_t)snprintf(first, sizeof first, "%" PRIu64, prm->shape[0]);
    for (k = digits; k < 21; k++) dict[len++] = ' ';
  }
  total = 10 + len + 1;
  pad = 64 - total % 64;
  for (k = 0; k < pad; k++) dict[len++] = ' ';
  dict[len++] = '\n';
  memcpy(pre, "\x93NUMPY\x01\x00", 8);
  pre[8] = (unsigned char)(len & 0xFF);
  pre[9] = (unsigned char)(len >> 8);
  for (i = 0; i < prm->rank; i++) count *= prm->shape[i];
  bytes = count * prm->elem_size;

  f = fopen(path, "wb");
  if (f == NULL || fwrite(pre, 1, 10, f) != 10 || fwrite(dict, 1, len, f) != len ||
      (bytes > 0 && fwrite(data, 1, (size_t)bytes, f) != bytes) || fclose(f) != 0) {
    snprintf(msg, sizeof msg, "cannot write %s: %s", path, strerror(errno));
    accc_fail(msg);
  }
}

static ACCC_UNUSED void accc_check_host(void) {
  const uint16_t one = 1;
  unsigned char first;
  memcpy(&first, &one, 1);
  if (first != 1) accc_fail(".npy files are little-endian; this harness needs a little-endian host");
}

static ACCC_UNUSED uint64_t accc_now_ns(void) {
  struct timespec t;
  if (clock_gettime(CLOCK_MONOTONIC, &t) != 0) accc_fail("clock_gettime(CLOCK_MONOTONIC) failed");
  return (uint64_t)t.tv_sec * UINT64_C(1000000000) + (uint64_t)t.tv_nsec;
}
