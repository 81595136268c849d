#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh) and runs every test of accc:
# the Rust tests of the whole workspace, then the lit suite in lit-tests/
# against the freshly built `accc` binary.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
cargo build --workspace --locked
cargo test --workspace --locked
python3 -c "from lit.main import main; main()" -sv lit-tests
