//! Running a C program written against Gemmini's C API on the emulator.
//!
//! [`write_headers`] puts accc's `gemmini.h` (Gemmini's API names on top of
//! RoCC command words) and a `gemmini_params.h` generated from the
//! hardware description in a directory; [`build`] compiles the program with
//! the host C compiler into a shared object; [`run`] starts a *host
//! process* (an executable that calls [`serve`] — the `accc` binary, or
//! `accc-gemmini-host` from this crate) which loads the shared object,
//! installs the emulator behind the header's hook, and calls `main`.
//!
//! The program runs natively, so its own memory is the emulated DRAM: a
//! mvin reads the bytes at the virtual address the program passed, a mvout
//! writes them. Every such access is checked against the process's
//! memory map first, so a bad pointer is an emulator error naming the
//! command, not a crash. A child process keeps the caller safe from
//! whatever the program does (crash, `exit`, endless loop); the report
//! comes back in a file written even when the program calls `exit`.

use crate::dram::{Dram, DramFault};
use crate::{Emulator, Report};
use accc_targets::gemmini::hardware::HardwareConfig;
use std::ffi::{c_char, c_int, CString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// accc's implementation of Gemmini's C API.
pub const GEMMINI_H: &str = include_str!("../../../targets/src/gemmini/gemmini.h");

/// The exit status of a host process whose program the emulator stopped.
pub const EXIT_EMULATOR_ERROR: i32 = 86;

/// What can go wrong around a program (the program's own failures are in
/// [`Outcome`]).
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("cannot {action} {}: {error}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error("cannot run the C compiler `{cc}`: {error}")]
    CompilerUnavailable {
        cc: String,
        #[source]
        error: std::io::Error,
    },
    #[error("the C compiler `{cc}` rejected the program:\n{stderr}")]
    CompileFailed { cc: String, stderr: String },
    #[error("the program ran longer than {0:?} and was stopped")]
    Timeout(Duration),
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> HostError + 'a {
    move |error| HostError::Io {
        action,
        path: path.to_path_buf(),
        error,
    }
}

/// Writes `gemmini.h`, `gemmini_params.h` and their `include/` twins (C
/// written for gemmini-rocc-tests includes `include/gemmini.h`) to `dir`.
pub fn write_headers(dir: &Path, cfg: &HardwareConfig) -> Result<(), HostError> {
    let params = cfg.params_header();
    for sub in [dir.to_path_buf(), dir.join("include")] {
        std::fs::create_dir_all(&sub).map_err(io("create", &sub))?;
        for (name, text) in [
            ("gemmini.h", GEMMINI_H),
            ("gemmini_params.h", params.as_str()),
            ("gemmini_testutils.h", "#include \"gemmini.h\"\n"),
        ] {
            let path = sub.join(name);
            std::fs::write(&path, text).map_err(io("write", &path))?;
        }
    }
    Ok(())
}

/// The C compiler: `$CC`, else `cc`.
pub fn c_compiler() -> String {
    std::env::var("CC")
        .ok()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "cc".to_string())
}

/// Compiles `sources` against the headers in `include_dir` into
/// `work_dir/program.so`.
pub fn build(
    sources: &[PathBuf],
    include_dir: &Path,
    work_dir: &Path,
) -> Result<PathBuf, HostError> {
    let cc = c_compiler();
    let out = work_dir.join("program.so");
    let output = Command::new(&cc)
        .args([
            "-std=gnu11",
            "-O2",
            "-fPIC",
            "-shared",
            "-fno-strict-aliasing",
            "-I",
        ])
        .arg(include_dir)
        .args(sources)
        .arg("-o")
        .arg(&out)
        .arg("-lm")
        .output()
        .map_err(|error| HostError::CompilerUnavailable {
            cc: cc.clone(),
            error,
        })?;
    if !output.status.success() {
        return Err(HostError::CompileFailed {
            cc,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    Ok(out)
}

/// How a program's run ended.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    /// The exit status of `main` (or of `exit`), if the program ended.
    pub exit_code: Option<i32>,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The emulator's statistics, when the host process got to write them.
    pub report: Option<Report>,
    /// Why the emulator stopped the program, if it did.
    pub error: Option<String>,
}

/// The file the host process writes at exit.
#[derive(serde::Serialize, serde::Deserialize)]
struct HostRecord {
    report: Report,
    error: Option<String>,
}

/// Runs the shared object `lib` in a host process: `host` followed by
/// `host_args` must be a command line that ends up in [`serve`] with the
/// arguments this function appends.
pub fn run(
    host: &Path,
    host_args: &[&str],
    lib: &Path,
    cfg: &HardwareConfig,
    program_args: &[String],
    timeout: Option<Duration>,
) -> Result<Outcome, HostError> {
    let dir = tempfile::tempdir()
        .map_err(io("create a temporary directory in", &std::env::temp_dir()))?;
    let cfg_path = dir.path().join("hardware.json");
    let json = serde_json::to_string(cfg).expect("a hardware description serializes");
    std::fs::write(&cfg_path, json).map_err(io("write", &cfg_path))?;
    let record_path = dir.path().join("report.json");
    let mut child = Command::new(host)
        .args(host_args)
        .arg(lib)
        .arg(&cfg_path)
        .arg(&record_path)
        .arg("--")
        .args(program_args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io("start", host))?;
    // Drain the pipes on threads so a chatty program cannot block.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(io("wait for", host))? {
            break status;
        }
        if timeout.is_some_and(|t| started.elapsed() > t) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(HostError::Timeout(timeout.unwrap_or_default()));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    let record: Option<HostRecord> = std::fs::read_to_string(&record_path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    use std::os::unix::process::ExitStatusExt;
    let (report, error) = match record {
        Some(r) => (Some(r.report), r.error),
        None => (None, None),
    };
    Ok(Outcome {
        exit_code: status.code(),
        signal: status.signal(),
        stdout,
        stderr,
        report,
        error,
    })
}

// ---- the host process ----------------------------------------------------

/// The table `gemmini.h` calls through (`struct accc_gemmini_host`).
#[repr(C)]
struct HostTable {
    rocc: extern "C" fn(u64, u64, u64),
    fence: extern "C" fn(),
    cycles: extern "C" fn() -> u64,
}

static TABLE: HostTable = HostTable {
    rocc: host_rocc,
    fence: host_fence,
    cycles: host_cycles,
};

struct HostState {
    emulator: Emulator,
    dram: ProcessDram,
    record: PathBuf,
    error: Option<String>,
    written: bool,
}

static STATE: Mutex<Option<HostState>> = Mutex::new(None);

fn with_state<T>(f: impl FnOnce(&mut HostState) -> T) -> Option<T> {
    let mut guard = STATE.lock().unwrap_or_else(|p| p.into_inner());
    guard.as_mut().map(f)
}

/// Writes the report once (at `main`'s return, `exit`, or an emulator
/// error).
fn write_record(state: &mut HostState) {
    if state.written {
        return;
    }
    state.written = true;
    let record = HostRecord {
        report: state.emulator.report(),
        error: state.error.clone(),
    };
    let text = serde_json::to_string(&record).expect("a report serializes");
    if let Err(e) = std::fs::write(&state.record, text) {
        eprintln!(
            "accc: cannot write the emulator's report {}: {e}",
            state.record.display()
        );
    }
}

extern "C" fn host_rocc(funct: u64, rs1: u64, rs2: u64) {
    let failed = with_state(|s| match s.emulator.rocc(funct, rs1, rs2, &mut s.dram) {
        Ok(()) => false,
        Err(e) => {
            s.error = Some(e.to_string());
            write_record(s);
            true
        }
    });
    if failed == Some(true) {
        // The program cannot go on from a command that did not happen.
        unsafe {
            libc::fflush(std::ptr::null_mut());
            libc::_exit(EXIT_EMULATOR_ERROR);
        }
    }
}

extern "C" fn host_fence() {
    with_state(|s| s.emulator.fence());
}

extern "C" fn host_cycles() -> u64 {
    with_state(|s| s.emulator.read_cycles()).unwrap_or(0)
}

extern "C" fn host_at_exit() {
    with_state(write_record);
}

/// The host process: loads `lib`, connects it to an emulator of `cfg`,
/// runs its `main` with `args` and exits with its status. Never returns.
/// Arguments as [`run`] passes them: `LIB HARDWARE.json REPORT.json --
/// ARGS...`.
pub fn serve(args: &[String]) -> ! {
    let code = match serve_inner(args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("accc: {message}");
            2
        }
    };
    with_state(write_record);
    unsafe { libc::fflush(std::ptr::null_mut()) };
    let _ = std::io::stdout().flush();
    std::process::exit(code)
}

fn serve_inner(args: &[String]) -> Result<i32, String> {
    let [lib, cfg, record, rest @ ..] = args else {
        return Err("usage: LIB HARDWARE.json REPORT.json -- ARGS...".into());
    };
    let program_args = match rest {
        [sep, tail @ ..] if sep == "--" => tail,
        _ => rest,
    };
    let cfg_text = std::fs::read_to_string(cfg).map_err(|e| format!("cannot read {cfg}: {e}"))?;
    let cfg: HardwareConfig = serde_json::from_str(&cfg_text)
        .map_err(|e| format!("bad hardware description {cfg}: {e}"))?;
    *STATE.lock().unwrap_or_else(|p| p.into_inner()) = Some(HostState {
        emulator: Emulator::new(&cfg),
        dram: ProcessDram::default(),
        record: PathBuf::from(record),
        error: None,
        written: false,
    });
    // Safety: loading runs the library's constructors; the library is the
    // user's program, which is what the caller asked to run.
    let library =
        unsafe { libloading::Library::new(lib) }.map_err(|e| format!("cannot load {lib}: {e}"))?;
    unsafe {
        let hook = library
            .get::<*mut *const HostTable>(b"accc_gemmini_host\0")
            .map_err(|_| {
                format!("{lib} does not use accc's gemmini.h (no `accc_gemmini_host`); compile it against the headers `accc emulate` writes")
            })?;
        **hook = &TABLE;
        libc::atexit(host_at_exit);
        let main = library
            .get::<unsafe extern "C" fn(c_int, *mut *mut c_char) -> c_int>(b"main\0")
            .map_err(|_| format!("{lib} has no `main`"))?;
        let owned: Vec<CString> = std::iter::once(lib.as_str())
            .chain(program_args.iter().map(String::as_str))
            .map(|a| CString::new(a).unwrap_or_default())
            .collect();
        let mut argv: Vec<*mut c_char> = owned.iter().map(|a| a.as_ptr() as *mut c_char).collect();
        argv.push(std::ptr::null_mut());
        let code = main(owned.len() as c_int, argv.as_mut_ptr());
        // Keep the library loaded until exit: atexit handlers may live in it.
        std::mem::forget(library);
        Ok(code)
    }
}

/// The host process's own memory, as DRAM: every access is checked
/// against `/proc/self/maps` (re-read when an address is not in the cached
/// map, since the program allocates as it runs).
#[derive(Default)]
struct ProcessDram {
    /// (start, end, writable), sorted by start.
    maps: Vec<(u64, u64, bool)>,
}

impl ProcessDram {
    fn reload(&mut self) {
        self.maps.clear();
        let Ok(text) = std::fs::read_to_string("/proc/self/maps") else {
            return;
        };
        for line in text.lines() {
            let mut fields = line.split_whitespace();
            let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
                continue;
            };
            let Some((a, b)) = range.split_once('-') else {
                continue;
            };
            let (Ok(a), Ok(b)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) else {
                continue;
            };
            if perms.starts_with('r') {
                self.maps
                    .push((a, b, perms.as_bytes().get(1) == Some(&b'w')));
            }
        }
        self.maps.sort_unstable();
    }

    fn mapped(&self, addr: u64, len: u64, write: bool) -> bool {
        let Some(end) = addr.checked_add(len) else {
            return false;
        };
        // Adjacent mappings may together cover the range.
        let mut at = addr;
        let i = self.maps.partition_point(|m| m.1 <= addr);
        for &(a, b, w) in &self.maps[i..] {
            if a > at || (write && !w) {
                return false;
            }
            at = b;
            if at >= end {
                return true;
            }
        }
        len == 0
    }

    /// Fails unless `len` bytes at `addr` are mapped (writable, for a
    /// write), looking at the map again when the cached one says no.
    fn check(&mut self, addr: u64, len: u64, write: bool) -> Result<(), DramFault> {
        if !self.mapped(addr, len, write) {
            self.reload();
            if !self.mapped(addr, len, write) {
                return Err(DramFault { addr, len });
            }
        }
        Ok(())
    }
}

impl Dram for ProcessDram {
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), DramFault> {
        self.check(addr, buf.len() as u64, false)?;
        // Safety: the range is mapped readable in this process (checked
        // above) and the program is single-threaded while it waits for
        // this command.
        unsafe { std::ptr::copy_nonoverlapping(addr as *const u8, buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    fn write(&mut self, addr: u64, buf: &[u8]) -> Result<(), DramFault> {
        self.check(addr, buf.len() as u64, true)?;
        // Safety: as for reads, and the range is writable.
        unsafe { std::ptr::copy_nonoverlapping(buf.as_ptr(), addr as *mut u8, buf.len()) };
        Ok(())
    }
}
