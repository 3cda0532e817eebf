#!/usr/bin/env bash
# Goal: every C++ file of the project is formatted as .clang-format says, so that a change's diff
# holds its change and nothing else. Prints each file that differs and how to fix it.
#   check_format.sh SOURCE_DIR
set -euo pipefail
cd "$1"
if ! command -v clang-format >/dev/null; then
  echo "style_test: clang-format is missing (tools/install-deps.sh installs it)" >&2
  exit 1
fi
bad=()
while IFS= read -r -d '' f; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(find src include tests tools -path tests/layering/fixture -prune -o \
  \( -name '*.cc' -o -name '*.h' \) -print0 | sort -z)
if [ ${#bad[@]} -gt 0 ]; then
  printf 'style_test: not formatted as .clang-format says:\n' >&2
  printf '  %s\n' "${bad[@]}" >&2
  printf 'fix: clang-format -i FILE... (clang-format %s)\n' "$(clang-format --version | grep -o '[0-9][0-9.]*' | head -1)" >&2
  exit 1
fi
echo "style_test: every C++ file is formatted"
