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
# One clang-format for every file (a process per file took 46 s here): it names each file that
# differs in its "code should be clang-formatted" errors.
dirs=()
for d in src include tests tools examples; do [ -d "$d" ] && dirs+=("$d"); done
files=()
while IFS= read -r -d '' f; do files+=("$f"); done < <(find "${dirs[@]}" \
  -path tests/layering/fixture -prune -o -path tests/style/fixture -prune -o \( -name '*.cc' -o -name '*.h' \) -print0 | sort -z)
[ ${#files[@]} -gt 0 ] || { echo "style_test: no C++ file found under $1" >&2; exit 1; }
report=$(clang-format --dry-run --Werror "${files[@]}" 2>&1) && status=0 || status=$?
mapfile -t bad < <(printf '%s\n' "$report" | sed -n 's/^\(.*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' | sort -u)
if [ "$status" -ne 0 ] && [ ${#bad[@]} -eq 0 ]; then
  printf 'style_test: clang-format failed:\n%s\n' "$report" >&2
  exit 1
fi
if [ ${#bad[@]} -gt 0 ]; then
  printf 'style_test: not formatted as .clang-format says:\n' >&2
  printf '  %s\n' "${bad[@]}" >&2
  printf 'fix: clang-format -i FILE... (clang-format %s)\n' "$(clang-format --version | grep -o '[0-9][0-9.]*' | head -1)" >&2
  exit 1
fi
echo "style_test: every C++ file is formatted"
