#!/usr/bin/env bash
# Installs what accc's build and tests need on a fresh Debian machine, and
# nothing that is already there: LLVM 19's FileCheck and `not`
# (llvm-19-tools), mlir-opt (mlir-19-tools), libz3 (libz3-dev, for the
# verifier), a C compiler, the RISC-V cross compiler with picolibc (for
# Gemmini programs in hardware mode), and from PyPI LLVM's `lit` test driver plus NumPy
# and ml_dtypes (the .npy interop tests compare accc's files with NumPy's).
# Safe to run repeatedly.
set -euo pipefail

need_apt=()
[ -x /usr/lib/llvm-19/bin/FileCheck ] || need_apt+=(llvm-19-tools)
[ -x /usr/lib/llvm-19/bin/mlir-opt ] || need_apt+=(mlir-19-tools)
[ -e /usr/include/z3.h ] || need_apt+=(libz3-dev)
command -v cc >/dev/null || need_apt+=(gcc)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
# RISC-V cross compiler: the tests build every Gemmini program in hardware
# mode (real RoCC custom3 instructions) to show the C is real RISC-V code.
command -v riscv64-unknown-elf-gcc >/dev/null || need_apt+=(gcc-riscv64-unknown-elf)
[ -e /usr/lib/picolibc/riscv64-unknown-elf/picolibc.specs ] || need_apt+=(picolibc-riscv64-unknown-elf)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need_apt[@]}"
fi

if ! python3 -c 'import lit.main' 2>/dev/null; then
  echo "setup: installing lit from PyPI"
  # A Debian system Python refuses plain `pip install` (PEP 668); fall back
  # to --break-system-packages there, which only adds the pure-Python lit.
  python3 -m pip install -q --root-user-action=ignore 'lit>=17' \
    || python3 -m pip install -q --root-user-action=ignore --break-system-packages 'lit>=17'
  python3 -c 'import lit.main'
fi

if ! python3 -c 'import numpy, ml_dtypes' 2>/dev/null; then
  echo "setup: installing numpy and ml_dtypes from PyPI"
  python3 -m pip install -q --root-user-action=ignore 'numpy>=1.24' 'ml_dtypes>=0.3' \
    || python3 -m pip install -q --root-user-action=ignore --break-system-packages 'numpy>=1.24' 'ml_dtypes>=0.3'
  python3 -c 'import numpy, ml_dtypes'
fi

command -v cargo >/dev/null || { echo "setup: cargo is missing; install the Rust toolchain (rustup)" >&2; exit 1; }
echo "setup: ok"
