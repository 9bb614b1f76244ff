#!/usr/bin/env bash
# Fresh Debian 12, as root: install dependencies, build, run the demo job.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" "$root/build"
"$root/scripts/demo.sh" "$root/build" "$root/results"
