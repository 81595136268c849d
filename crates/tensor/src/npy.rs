//! NumPy `.npy` files: reading, checking against a parameter, and writing.
//!
//! Guarantees:
//! - [`to_bytes`] produces exactly the bytes `numpy.save` writes for the same
//!   array (format version 1.0, or 2.0 when the header would not fit, the
//!   header dict with sorted keys, NumPy's spare space for growing the first
//!   axis, and padding so the data starts at a multiple of 64 bytes).
//! - Reading accepts versions 1.0, 2.0 and 3.0, the little- and big-endian
//!   spellings of every supported element type, and `<V2`/`|V2` (how
//!   `ml_dtypes` stores `bfloat16`) as `bf16`.
//! - Every malformed input is an [`NpyError`] whose message names the file;
//!   nothing panics, and no buffer larger than the input is allocated from
//!   what the header claims.
//!
//! The header is a Python dict literal; it is parsed here by a small
//! recursive-descent parser rather than through `npyz`, so that each way a
//! header can be wrong gets its own precise message.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use thiserror::Error;

use crate::tensor::element_count;
use crate::{DType, Tensor};

/// The first six bytes of every `.npy` file.
const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// NumPy aligns the start of the data to this many bytes.
const ARRAY_ALIGN: usize = 64;
/// NumPy leaves room in the header for the growth axis to reach this many
/// digits (`numpy.lib.format.GROWTH_AXIS_MAX_DIGITS`).
const GROWTH_AXIS_MAX_DIGITS: usize = 21;
/// Nesting deeper than this in a header is rejected, so that hostile input
/// cannot exhaust the stack.
const MAX_HEADER_NESTING: usize = 16;
/// How much of a malformed header a message quotes.
const QUOTED_HEADER_CHARS: usize = 120;

/// Everything that can go wrong reading or writing a `.npy` file. Every
/// message names the file (its path, or the origin given to [`from_bytes`]).
///
/// In every variant, `path` is that name, `expected` what the header or
/// the parameter calls for and `found` what the file has.
#[derive(Debug, Error)]
#[allow(missing_docs)] // The fields are described above.
pub enum NpyError {
    /// The file could not be read.
    #[error("cannot read `{path}`: {}", os_message(source))]
    Read {
        path: String,
        #[source]
        source: io::Error,
    },
    /// The file could not be written.
    #[error("cannot write `{path}`: {}", os_message(source))]
    Write {
        path: String,
        #[source]
        source: io::Error,
    },
    /// The file does not start with `\x93NUMPY`.
    #[error("`{path}` is not a .npy file: it does not start with the magic string \\x93NUMPY")]
    NotNpy { path: String },
    /// The format version is not 1.0, 2.0 or 3.0.
    #[error(
        "`{path}` has .npy format version {major}.{minor}; only versions 1.0, 2.0 and 3.0 exist"
    )]
    UnsupportedVersion { path: String, major: u8, minor: u8 },
    /// The file ends inside its header.
    #[error("`{path}` is truncated: expected {expected} bytes of header, found {found}")]
    TruncatedHeader {
        path: String,
        expected: u64,
        found: usize,
    },
    /// The header is not a valid header dict.
    #[error("`{path}` has a malformed header: {problem}")]
    MalformedHeader { path: String, problem: String },
    /// The element type descriptor is not one accc supports.
    #[error(
        "`{path}` has element type descriptor {descr}, which accc does not support \
         (supported: |i1 <i2 <i4 <i8 |u1 <u2 <u4 <u8 <f2 <f4 <f8, <V2 for bf16, \
         and their big-endian '>' forms)"
    )]
    UnsupportedDescr { path: String, descr: String },
    /// The header says `fortran_order: True`.
    #[error(
        "`{path}` is stored in Fortran order: Fortran-order arrays are not supported; \
         save with np.ascontiguousarray"
    )]
    FortranOrder { path: String },
    /// The shape's size in bytes overflows the address space.
    #[error("`{path}` has shape {shape:?}, whose data would be too large to hold in memory")]
    ShapeTooLarge { path: String, shape: Vec<usize> },
    /// The file has less data than its header describes.
    #[error("`{path}` is truncated: expected {expected} bytes of data, found {found}")]
    TruncatedData {
        path: String,
        expected: usize,
        found: usize,
    },
    /// The file has more data than its header describes.
    #[error(
        "`{path}` has {} bytes of unexpected data after the {expected} bytes its header describes",
        found - expected
    )]
    TrailingData {
        path: String,
        expected: usize,
        found: usize,
    },
    /// The file's element type is not the parameter's ([`read_expect`]).
    #[error("`{path}` has element type {found} (descr '{descr}'), but parameter `{param}` is {expected}")]
    DtypeMismatch {
        path: String,
        descr: String,
        found: DType,
        param: String,
        expected: DType,
    },
    /// The file's shape is not the parameter's ([`read_expect`]).
    #[error("`{path}`: expected shape {expected:?} for parameter `{param}`, found {found:?}")]
    ShapeMismatch {
        path: String,
        param: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
}

/// An OS error's text without Rust's " (os error N)" suffix:
/// "No such file or directory".
fn os_message(error: &io::Error) -> String {
    let text = error.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_string(),
        _ => text,
    }
}

/// Reads the `.npy` file at `path`, whatever its (supported) element type and
/// shape.
///
/// # Errors
/// [`NpyError::Read`] if the file cannot be read, and the errors of
/// [`from_bytes`].
pub fn read(path: &Path) -> Result<Tensor, NpyError> {
    let origin = path.display().to_string();
    let bytes = read_file(path, &origin)?;
    from_bytes(&bytes, &origin)
}

/// Reads the `.npy` file at `path` as the value of parameter `param`, which
/// must have element type `dtype` and shape `shape`.
///
/// A `bf16` parameter also accepts a `<u2` file, read as raw bits. The
/// element type and shape are checked before the data, so a file of the
/// wrong kind is reported as such even if it is also truncated.
///
/// # Errors
/// Those of [`read`], then [`NpyError::DtypeMismatch`] or
/// [`NpyError::ShapeMismatch`] if the file does not fit the parameter.
pub fn read_expect(
    path: &Path,
    param: &str,
    dtype: DType,
    shape: &[usize],
) -> Result<Tensor, NpyError> {
    let origin = path.display().to_string();
    let bytes = read_file(path, &origin)?;
    let header = parse_header(&bytes, &origin)?;
    let compatible = header.dtype == dtype || (dtype == DType::BF16 && header.dtype == DType::U16);
    if !compatible {
        return Err(NpyError::DtypeMismatch {
            path: origin,
            descr: header.descr,
            found: header.dtype,
            param: param.to_string(),
            expected: dtype,
        });
    }
    if header.shape != shape {
        return Err(NpyError::ShapeMismatch {
            path: origin,
            param: param.to_string(),
            expected: shape.to_vec(),
            found: header.shape,
        });
    }
    let mut tensor = decode_data(&header, &bytes, &origin)?;
    tensor.dtype = dtype;
    Ok(tensor)
}

/// Writes `t` to `path` as `numpy.save` would.
///
/// # Errors
/// [`NpyError::Write`] if the file cannot be written.
pub fn write(path: &Path, t: &Tensor) -> Result<(), NpyError> {
    std::fs::write(path, to_bytes(t)).map_err(|source| NpyError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// Parses the contents of a `.npy` file; `origin` names it in messages.
///
/// # Errors
/// Every way the bytes can fail to be a complete, C-order `.npy` file of a
/// supported element type: one [`NpyError`] variant per problem.
pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Tensor, NpyError> {
    let header = parse_header(bytes, origin)?;
    decode_data(&header, bytes, origin)
}

/// The bytes of a `.npy` file holding `t`, identical to what `numpy.save`
/// writes for the same array (`bf16` is written with descriptor `<V2`, as
/// `ml_dtypes` does).
///
/// # Panics
/// If `t.data.len()` is not the element count of `t.shape` (a broken
/// [`Tensor`] invariant).
pub fn to_bytes(t: &Tensor) -> Vec<u8> {
    assert_eq!(
        element_count(&t.shape),
        Some(t.data.len()),
        "Tensor invariant broken: data.len() must be the product of shape {:?}",
        t.shape
    );
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
        descr_of(t.dtype),
        python_tuple(&t.shape)
    );
    if let Some(first) = t.shape.first() {
        let digits = first.to_string().len();
        header.push_str(&" ".repeat(GROWTH_AXIS_MAX_DIGITS.saturating_sub(digits)));
    }
    let mut bytes = wrap_header(&header);
    let width = t.dtype.bytes();
    bytes.reserve(t.data.len() * width);
    for &bits in &t.data {
        bytes.extend_from_slice(&bits.to_le_bytes()[..width]);
    }
    bytes
}

fn read_file(path: &Path, origin: &str) -> Result<Vec<u8>, NpyError> {
    std::fs::read(path).map_err(|source| NpyError::Read {
        path: origin.to_string(),
        source,
    })
}

/// NumPy's `_wrap_header`: magic, version, header length, then the header
/// padded with spaces and a newline so the data starts aligned. The padding
/// is never empty: an already aligned header gets a full 64 more bytes, as
/// NumPy does.
fn wrap_header(header: &str) -> Vec<u8> {
    let text_len = header.len() + 1; // the final newline
    let (version, length_bytes) = if padded_len(text_len, 2) <= u16::MAX as usize {
        (1u8, 2)
    } else {
        (2u8, 4)
    };
    let total_text = padded_len(text_len, length_bytes);
    let mut bytes = Vec::with_capacity(MAGIC.len() + 2 + length_bytes + total_text);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&[version, 0]);
    if length_bytes == 2 {
        // Checked above: it fits.
        bytes.extend_from_slice(&(total_text as u16).to_le_bytes());
    } else {
        bytes.extend_from_slice(&(total_text as u32).to_le_bytes());
    }
    bytes.extend_from_slice(header.as_bytes());
    bytes.resize(bytes.len() + (total_text - text_len), b' ');
    bytes.push(b'\n');
    bytes
}

/// The header text length (newline included) after NumPy's padding, for a
/// length field of `length_bytes` bytes.
fn padded_len(text_len: usize, length_bytes: usize) -> usize {
    let preamble = MAGIC.len() + 2 + length_bytes;
    text_len + ARRAY_ALIGN - (preamble + text_len) % ARRAY_ALIGN
}

/// Python's `repr` of a tuple of ints: `()`, `(5,)`, `(2, 3)`.
fn python_tuple(shape: &[usize]) -> String {
    match shape {
        [] => "()".to_string(),
        [only] => format!("({only},)"),
        _ => {
            let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
            format!("({})", dims.join(", "))
        }
    }
}

/// The descriptor accc writes for `dtype`.
fn descr_of(dtype: DType) -> &'static str {
    match dtype {
        DType::I8 => "|i1",
        DType::I16 => "<i2",
        DType::I32 => "<i4",
        DType::I64 => "<i8",
        DType::U8 => "|u1",
        DType::U16 => "<u2",
        DType::U32 => "<u4",
        DType::U64 => "<u8",
        DType::F16 => "<f2",
        DType::BF16 => "<V2",
        DType::F32 => "<f4",
        DType::F64 => "<f8",
    }
}

/// The element type and byte order (`true` for big-endian) a descriptor
/// spells, or `None` if accc does not support it.
fn dtype_of_descr(descr: &str) -> Option<(DType, bool)> {
    let mut chars = descr.chars();
    let order = chars.next()?;
    let kind_and_size = chars.as_str();
    let dtype = match kind_and_size {
        "i1" => DType::I8,
        "i2" => DType::I16,
        "i4" => DType::I32,
        "i8" => DType::I64,
        "u1" => DType::U8,
        "u2" => DType::U16,
        "u4" => DType::U32,
        "u8" => DType::U64,
        "f2" => DType::F16,
        "f4" => DType::F32,
        "f8" => DType::F64,
        "V2" => DType::BF16,
        _ => return None,
    };
    let big_endian = match order {
        '<' => false,
        '>' => true,
        '=' => cfg!(target_endian = "big"),
        // "Not applicable": only meaningful for one-byte and raw types.
        '|' if dtype.bytes() == 1 || dtype == DType::BF16 => false,
        _ => return None,
    };
    Some((dtype, big_endian))
}

/// What a valid header says.
struct Header {
    /// The descriptor as the file spells it, for messages.
    descr: String,
    dtype: DType,
    big_endian: bool,
    shape: Vec<usize>,
    /// Where the data starts.
    data_offset: usize,
    /// How many bytes of data the shape and type call for.
    data_len: usize,
}

fn parse_header(bytes: &[u8], origin: &str) -> Result<Header, NpyError> {
    let path = || origin.to_string();
    if !bytes.starts_with(MAGIC) {
        return Err(NpyError::NotNpy { path: path() });
    }
    let truncated = |expected: u64| NpyError::TruncatedHeader {
        path: path(),
        expected,
        found: bytes.len(),
    };
    let (major, minor) = match bytes.get(6..8) {
        Some(&[major, minor]) => (major, minor),
        _ => return Err(truncated(8)),
    };
    let length_bytes = match (major, minor) {
        (1, 0) => 2,
        (2, 0) | (3, 0) => 4,
        _ => {
            return Err(NpyError::UnsupportedVersion {
                path: path(),
                major,
                minor,
            })
        }
    };
    let preamble = 8 + length_bytes;
    let Some(length_field) = bytes.get(8..preamble) else {
        return Err(truncated(preamble as u64));
    };
    let header_len = length_field
        .iter()
        .rev()
        .fold(0u64, |n, &b| (n << 8) | u64::from(b));
    let header_end = preamble as u64 + header_len;
    let text_bytes = usize::try_from(header_end)
        .ok()
        .and_then(|end| bytes.get(preamble..end))
        .ok_or_else(|| truncated(header_end))?;
    let text: String = if major == 3 {
        std::str::from_utf8(text_bytes)
            .map_err(|_| NpyError::MalformedHeader {
                path: path(),
                problem: "the header of a version 3.0 file is not valid UTF-8".to_string(),
            })?
            .to_string()
    } else {
        // Versions 1.0 and 2.0 headers are Latin-1, whose bytes are the
        // first 256 code points.
        text_bytes.iter().map(|&b| char::from(b)).collect()
    };
    let malformed = |problem: String| NpyError::MalformedHeader {
        path: path(),
        problem,
    };
    let fields = parse_header_dict(&text).map_err(malformed)?;

    let (dtype, big_endian) =
        dtype_of_descr(&fields.descr).ok_or_else(|| NpyError::UnsupportedDescr {
            path: path(),
            descr: format!("'{}'", fields.descr),
        })?;
    if fields.fortran_order {
        return Err(NpyError::FortranOrder { path: path() });
    }
    let data_len = element_count(&fields.shape)
        .and_then(|n| n.checked_mul(dtype.bytes()))
        .ok_or_else(|| NpyError::ShapeTooLarge {
            path: path(),
            shape: fields.shape.clone(),
        })?;
    Ok(Header {
        descr: fields.descr,
        dtype,
        big_endian,
        shape: fields.shape,
        // `header_end` indexes into `bytes`, so it fits in usize.
        data_offset: preamble + text_bytes.len(),
        data_len,
    })
}

/// Checks that the data after the header is exactly what the header
/// describes, then decodes it. Allocates only after that check, so the
/// allocation is bounded by the input's size.
fn decode_data(header: &Header, bytes: &[u8], origin: &str) -> Result<Tensor, NpyError> {
    let data = &bytes[header.data_offset..];
    if data.len() < header.data_len {
        return Err(NpyError::TruncatedData {
            path: origin.to_string(),
            expected: header.data_len,
            found: data.len(),
        });
    }
    if data.len() > header.data_len {
        return Err(NpyError::TrailingData {
            path: origin.to_string(),
            expected: header.data_len,
            found: data.len(),
        });
    }
    let width = header.dtype.bytes();
    let elements = data
        .chunks_exact(width)
        .map(|chunk| {
            let mut le = [0u8; 8];
            le[..width].copy_from_slice(chunk);
            if header.big_endian {
                le[..width].reverse();
            }
            u64::from_le_bytes(le)
        })
        .collect();
    Ok(Tensor {
        dtype: header.dtype,
        shape: header.shape.clone(),
        data: elements,
    })
}

/// The three fields of a header dict.
struct HeaderFields {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// Parses `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`
/// (any spacing, either quote style, Python 2's `3L` ints) and checks that
/// it has exactly the three keys with values of the right kinds.
fn parse_header_dict(text: &str) -> Result<HeaderFields, String> {
    let quoted = quote_header(text);
    let mut parser = LiteralParser {
        chars: text.chars().collect(),
        pos: 0,
    };
    let literal = parser
        .parse_value(0)
        .and_then(|value| {
            parser.skip_whitespace();
            match parser.peek() {
                None => Ok(value),
                Some(c) => Err(parser.error_at(format!("unexpected {c:?} after the dict"))),
            }
        })
        .map_err(|e| format!("{e}, in {quoted}"))?;
    let Literal::Dict(entries) = literal else {
        return Err(format!("it is not a dict: {quoted}"));
    };

    let mut descr = None;
    let mut fortran_order = None;
    let mut shape = None;
    for (key, value) in entries {
        let Literal::Str(key) = key else {
            return Err(format!("a key is not a string: {}", key.describe()));
        };
        let slot_taken = match key.as_str() {
            "descr" => descr.replace(value).is_some(),
            "fortran_order" => fortran_order.replace(value).is_some(),
            "shape" => shape.replace(value).is_some(),
            _ => {
                return Err(format!(
                    "unexpected key '{key}' (a .npy header has exactly 'descr', \
                     'fortran_order' and 'shape')"
                ))
            }
        };
        if slot_taken {
            return Err(format!("key '{key}' appears twice"));
        }
    }
    let missing = |key: &str| format!("the key '{key}' is missing, in {quoted}");

    let descr = match descr.ok_or_else(|| missing("descr"))? {
        Literal::Str(s) => s,
        Literal::List => {
            return Err(
                "'descr' is a list of fields: structured arrays are not supported".to_string(),
            )
        }
        other => {
            return Err(format!(
                "'descr' must be a string, found {}",
                other.describe()
            ))
        }
    };
    let fortran_order = match fortran_order.ok_or_else(|| missing("fortran_order"))? {
        Literal::Bool(b) => b,
        other => {
            return Err(format!(
                "'fortran_order' must be True or False, found {}",
                other.describe()
            ))
        }
    };
    let shape = match shape.ok_or_else(|| missing("shape"))? {
        Literal::Tuple(dims) => dims
            .into_iter()
            .map(|dim| match dim {
                Literal::Int {
                    negative: true,
                    digits,
                } if digits.bytes().any(|b| b != b'0') => {
                    Err(format!("shape dimension -{digits} is negative"))
                }
                Literal::Int { digits, .. } => digits
                    .parse::<usize>()
                    .map_err(|_| format!("shape dimension {digits} is too large")),
                other => Err(format!(
                    "shape dimensions must be integers, found {}",
                    other.describe()
                )),
            })
            .collect::<Result<Vec<usize>, String>>()?,
        other => {
            return Err(format!(
                "'shape' must be a tuple of integers, found {}",
                other.describe()
            ))
        }
    };
    Ok(HeaderFields {
        descr,
        fortran_order,
        shape,
    })
}

/// The header text for a message: trimmed, escaped, shortened.
fn quote_header(text: &str) -> String {
    let trimmed = text.trim_end();
    let mut quoted = String::new();
    for (i, c) in trimmed.chars().enumerate() {
        if i == QUOTED_HEADER_CHARS {
            quoted.push_str("...");
            break;
        }
        if c.is_control() {
            let _ = write!(quoted, "{}", c.escape_debug());
        } else {
            quoted.push(c);
        }
    }
    format!("`{quoted}`")
}

/// A Python literal, as far as `.npy` headers use them.
enum Literal {
    Str(String),
    /// An integer as written: its sign and decimal digits, unbounded.
    Int {
        negative: bool,
        digits: String,
    },
    Bool(bool),
    None,
    Tuple(Vec<Literal>),
    /// A list; only ever an error in a header (a structured `descr`), so its
    /// items are parsed for syntax and dropped.
    List,
    Dict(Vec<(Literal, Literal)>),
}

impl Literal {
    /// What kind of value this is, for messages.
    fn describe(&self) -> String {
        match self {
            Literal::Str(s) => format!("the string '{}'", s.escape_debug()),
            Literal::Int { negative, digits } => {
                format!("the integer {}{digits}", if *negative { "-" } else { "" })
            }
            Literal::Bool(b) => if *b { "True" } else { "False" }.to_string(),
            Literal::None => "None".to_string(),
            Literal::Tuple(_) => "a tuple".to_string(),
            Literal::List => "a list".to_string(),
            Literal::Dict(_) => "a dict".to_string(),
        }
    }
}

/// Recursive-descent parser for [`Literal`]s. Errors are plain text (the
/// caller adds the file name) with the character position.
struct LiteralParser {
    chars: Vec<char>,
    pos: usize,
}

impl LiteralParser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn error_at(&self, message: String) -> String {
        format!("{message} at character {}", self.pos + 1)
    }

    fn parse_value(&mut self, depth: usize) -> Result<Literal, String> {
        if depth > MAX_HEADER_NESTING {
            return Err(self.error_at("values nested too deeply".to_string()));
        }
        self.skip_whitespace();
        match self.peek() {
            None => Err(self.error_at("the header ends where a value was expected".to_string())),
            Some('{') => self.parse_dict(depth),
            Some('(') => self.parse_parenthesized(depth),
            Some('[') => {
                self.pos += 1;
                self.parse_items(']', depth)?;
                Ok(Literal::List)
            }
            Some(quote @ ('\'' | '"')) => self.parse_string(quote),
            Some(c) if c.is_ascii_digit() || c == '-' || c == '+' => self.parse_int(),
            Some(c) if c.is_alphabetic() || c == '_' => {
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    self.pos += 1;
                }
                let name: String = self.chars[start..self.pos].iter().collect();
                match name.as_str() {
                    "True" => Ok(Literal::Bool(true)),
                    "False" => Ok(Literal::Bool(false)),
                    "None" => Ok(Literal::None),
                    _ => {
                        self.pos = start;
                        Err(self.error_at(format!("unknown name `{name}`")))
                    }
                }
            }
            Some(c) => Err(self.error_at(format!("unexpected {c:?}"))),
        }
    }

    /// `(x)` is `x`; `()`, `(x,)` and `(x, y)` are tuples.
    fn parse_parenthesized(&mut self, depth: usize) -> Result<Literal, String> {
        self.pos += 1;
        let (mut items, trailing_comma) = self.parse_items(')', depth)?;
        if items.len() == 1 && !trailing_comma {
            return Ok(items.remove(0));
        }
        Ok(Literal::Tuple(items))
    }

    /// Comma-separated values up to `close` (the opener already consumed);
    /// also says whether a comma came last.
    fn parse_items(&mut self, close: char, depth: usize) -> Result<(Vec<Literal>, bool), String> {
        let mut items = Vec::new();
        let mut trailing_comma = false;
        loop {
            self.skip_whitespace();
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok((items, trailing_comma));
            }
            items.push(self.parse_value(depth + 1)?);
            self.skip_whitespace();
            match self.peek() {
                Some(',') => {
                    self.pos += 1;
                    trailing_comma = true;
                }
                Some(c) if c == close => trailing_comma = false,
                Some(c) => {
                    return Err(self.error_at(format!("expected ',' or '{close}', found {c:?}")))
                }
                None => return Err(self.error_at(format!("the header ends before '{close}'"))),
            }
        }
    }

    fn parse_dict(&mut self, depth: usize) -> Result<Literal, String> {
        self.pos += 1;
        let mut entries = Vec::new();
        loop {
            self.skip_whitespace();
            if self.peek() == Some('}') {
                self.pos += 1;
                return Ok(Literal::Dict(entries));
            }
            let key = self.parse_value(depth + 1)?;
            self.skip_whitespace();
            match self.peek() {
                Some(':') => self.pos += 1,
                Some(c) => {
                    return Err(self.error_at(format!("expected ':' after a key, found {c:?}")))
                }
                None => return Err(self.error_at("the header ends before ':'".to_string())),
            }
            let value = self.parse_value(depth + 1)?;
            entries.push((key, value));
            self.skip_whitespace();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some('}') => {}
                Some(c) => return Err(self.error_at(format!("expected ',' or '}}', found {c:?}"))),
                None => return Err(self.error_at("the header ends before '}'".to_string())),
            }
        }
    }

    fn parse_string(&mut self, quote: char) -> Result<Literal, String> {
        let start = self.pos;
        self.pos += 1;
        let mut value = String::new();
        loop {
            match self.peek() {
                None | Some('\n') => {
                    self.pos = start;
                    return Err(self.error_at("unterminated string".to_string()));
                }
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(Literal::Str(value));
                }
                Some('\\') => {
                    self.pos += 1;
                    let escaped = match self.peek() {
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some(c @ ('\\' | '\'' | '"')) => c,
                        _ => {
                            return Err(self.error_at("unsupported escape in a string".to_string()))
                        }
                    };
                    value.push(escaped);
                    self.pos += 1;
                }
                Some(c) => {
                    value.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn parse_int(&mut self) -> Result<Literal, String> {
        let negative = match self.peek() {
            Some('-') => {
                self.pos += 1;
                true
            }
            Some('+') => {
                self.pos += 1;
                false
            }
            _ => false,
        };
        self.skip_whitespace();
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.error_at("expected digits".to_string()));
        }
        let digits: String = self.chars[start..self.pos].iter().collect();
        // Python 2 wrote long integers with an `L` suffix.
        if matches!(self.peek(), Some('L' | 'l')) {
            self.pos += 1;
        }
        Ok(Literal::Int { negative, digits })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_round_trip() {
        for dtype in DType::ALL {
            assert_eq!(dtype_of_descr(descr_of(dtype)), Some((dtype, false)));
        }
        assert_eq!(dtype_of_descr("<i1"), Some((DType::I8, false)));
        assert_eq!(dtype_of_descr("|V2"), Some((DType::BF16, false)));
        assert_eq!(dtype_of_descr(">f4"), Some((DType::F32, true)));
        assert_eq!(dtype_of_descr("|f4"), None);
        assert_eq!(dtype_of_descr("<c8"), None);
        assert_eq!(dtype_of_descr(""), None);
    }

    #[test]
    fn padding_matches_numpy() {
        // `np.save` of a (2, 3) int32 array has a 128-byte prefix.
        let t = Tensor::zeros(DType::I32, vec![2, 3]);
        let bytes = to_bytes(&t);
        assert_eq!(bytes.len(), 128 + 24);
        assert_eq!(bytes[127], b'\n');
        // An already aligned header still gets a full 64 bytes of padding.
        assert_eq!(padded_len(54, 2), 118);
        assert_eq!((10 + padded_len(53, 2)) % 64, 0);
    }

    #[test]
    fn parenthesized_int_is_not_a_tuple() {
        let err = parse_header_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (3)}")
            .err()
            .unwrap_or_default();
        assert_eq!(
            err,
            "'shape' must be a tuple of integers, found the integer 3"
        );
    }

    #[test]
    fn python2_long_ints_and_double_quotes() {
        let fields = parse_header_dict(
            "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (3L, 4L)}",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fields.shape, vec![3, 4]);
        assert_eq!(fields.descr, "<f4");
        assert!(!fields.fortran_order);
    }
}
