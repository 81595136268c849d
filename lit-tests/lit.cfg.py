# lit configuration for accc's regression tests.
#
# Substitutions: `accc` (the debug binary built by `cargo build`), `FileCheck`
# and `not` (LLVM 19's, from Debian's llvm-19-tools), `mlir-opt`
# (mlir-19-tools), %examples (the repository's examples/ folder) and
# %gemmini_programs (hand-written Gemmini C programs of the emulator's tests).
import os
import shutil
import sys

import lit.formats

config.name = "accc"
config.test_format = lit.formats.ShTest()
config.suffixes = [".acc", ".mlir", ".test"]
config.excludes = ["Inputs", "lit.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
repo = os.path.dirname(config.test_source_root)
config.test_exec_root = os.path.join(repo, "target", "lit")

target_dir = os.environ.get("CARGO_TARGET_DIR", os.path.join(repo, "target"))
accc = os.path.join(target_dir, "debug", "accc")
if not os.path.exists(accc):
    lit_config.fatal(f"accc binary not found at {accc}; run `cargo build -p accc` first")

llvm_bin = "/usr/lib/llvm-19/bin"


def find_tool(name, fallback=None):
    path = os.path.join(llvm_bin, name)
    if os.path.exists(path):
        return path
    other = shutil.which(fallback or name)
    if other:
        return other
    lit_config.fatal(f"{name} not found in {llvm_bin} nor on PATH; run scripts/setup.sh")


config.substitutions.append(("%examples", os.path.join(repo, "examples")))
config.substitutions.append(("%inputs", os.path.join(config.test_source_root, "Inputs")))
config.substitutions.append(("%gemmini_programs", os.path.join(repo, "crates", "sim", "tests", "programs")))
# Word-boundary patterns so `accc` does not rewrite paths containing it.
config.substitutions.append((r"(?<![\w/.-])FileCheck(?![\w/.-])", find_tool("FileCheck", "filecheck")))
config.substitutions.append((r"(?<![\w/.-])not(?![\w/.-])", find_tool("not")))
config.substitutions.append((r"(?<![\w/.-])accc(?![\w/.-])", accc))

mlir_opt = os.path.join(llvm_bin, "mlir-opt")
if os.path.exists(mlir_opt):
    config.available_features.add("mlir-opt")
    config.substitutions.append((r"(?<![\w/.-])mlir-opt(?![\w/.-])", mlir_opt))
else:
    lit_config.warning(f"mlir-opt not found at {mlir_opt}: tests that need it are UNSUPPORTED (run scripts/setup.sh)")

# The Python running lit (scripts/setup.sh gives it NumPy) writes .npy files.
config.substitutions.append(("%python", sys.executable))
try:
    import numpy  # noqa: F401
    config.available_features.add("numpy")
except ImportError:
    lit_config.warning("numpy is not importable: tests that write .npy files are UNSUPPORTED (run scripts/setup.sh)")

config.environment["NO_COLOR"] = "1"
config.environment["FILECHECK_OPTS"] = "--enable-var-scope"
