#!/usr/bin/env bash
# Runs every check the project has: formatting, lints, all tests (unit,
# integration, doc tests), and a build of the benchmarks (built, not run).
# This is the README's test command; .ci/run calls exactly this.
# Tests that need real servers (PostgreSQL, a Kafka broker) start them from
# scripts in this folder on throwaway directories and free ports.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "cargo test (unit and integration, with a throwaway PostgreSQL)"
scripts/with-postgres.sh cargo test --workspace --all-targets --all-features --locked

step "cargo test --doc"
cargo test --workspace --doc --all-features --locked

step "build the benchmarks (not run)"
cargo build -p ferrocast-bench --locked

echo
echo "all checks passed"
