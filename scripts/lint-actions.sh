#!/usr/bin/env bash
# Lints .github/workflows with actionlint (pinned in scripts/install-actionlint.sh, which runs
# first and is a no-op once installed). actionlint also shellchecks every `run:` script.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$repo/scripts/install-actionlint.sh"
cd "$repo"
"$repo/.smith/tools/bin/actionlint" -no-color
echo "actionlint: $(find .github/workflows -name '*.yml' | wc -l) workflow(s) clean"
