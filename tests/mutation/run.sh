#!/usr/bin/env bash
# tests/mutation/run.sh — mutation testing: plants each bug of tests/mutation/mutations.tsv, one at
# a time, into a scratch copy of the repository, builds it, runs the test suite without the golden
# byte-for-byte comparisons (ctest -E '^golden_'), and fails if any planted bug survives, that is
# if no test fails. Run it before calling an issue resolved; add mutations with each new op.
#
#   tests/mutation/run.sh [--fast] [--jobs N] [--keep] [--match TEXT]
#
#   --fast        stop each ctest run at its first failure (ctest --stop-on-failure), leave out
#                 the slow package_* and train_e2e_* tests, and run the rest in the order they are
#                 declared (unit tests, gradient and forward checks first) instead of the longest
#                 first: only the first catching tests are named (CI runs this)
#   --jobs N      build and test in parallel (default: nproc)
#   --keep        keep the scratch folder (its path is printed)
#   --match RE    only the mutations whose description matches the extended regular expression RE
#
# The scratch copy holds the tracked and untracked-but-not-ignored files of the working tree (so
# uncommitted changes are tested too), beside a link to ../shared when it exists (the spec). First
# the unmutated copy must pass; then each mutation is applied (its original text must occur
# exactly once in its file), built, tested and reverted. A mutation that does not build is an
# error in the list. Exit status: 0 when every mutation was caught, 1 otherwise.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
list=$repo/tests/mutation/mutations.tsv
fast=0 keep=0 match="" jobs=$(nproc)
while (($#)); do
  case $1 in
    --fast) fast=1 ;;
    --keep) keep=1 ;;
    --jobs) jobs=$2; shift ;;
    --match) match=$2; shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

scratch=$(mktemp -d "${TMPDIR:-/tmp}/nnc-mutation.XXXXXX")
cleanup() { if ((keep)); then echo "scratch folder kept: $scratch"; else rm -rf "$scratch"; fi; }
trap cleanup EXIT
src=$scratch/repo
mkdir -p "$src"
if git -C "$repo" rev-parse --git-dir >/dev/null 2>&1; then
  (cd "$repo" && git ls-files -z --cached --others --exclude-standard |
     while IFS= read -r -d '' f; do [[ -e $f ]] && printf '%s\0' "$f"; done |
     tar --null -T - -cf -) | tar -xf - -C "$src"
else # not a git checkout: everything but the build folders
  (cd "$repo" && tar --exclude='./build*' -cf - .) | tar -xf - -C "$src"
fi
[[ -d $repo/../shared ]] && ln -s "$(cd "$repo/../shared" && pwd)" "$scratch/shared"

build=$scratch/build
log=$scratch/log
echo "== building the unmutated copy in $build"
cmake -S "$src" -B "$build" -DNNC_WERROR=ON >"$log" 2>&1 || { cat "$log"; exit 1; }
cmake --build "$build" -j"$jobs" >"$log" 2>&1 || { cat "$log"; exit 1; }

stop=() exclude='^golden_'
((fast)) && stop=(--stop-on-failure) exclude='^(golden_|package_|train_e2e_)'
# runs the suite; prints the names of the failed tests, one a line
run_tests() {
  ((fast)) && rm -f "$build/Testing/Temporary/CTestCostData.txt"
  ctest --test-dir "$build" -j"$jobs" -E "$exclude" "${stop[@]}" >"$log" 2>&1 || true
  sed -n '/The following tests FAILED:/,$ s/^[[:space:]]*[0-9]\{1,\} - \([^ ]*\) (.*/\1/p' "$log" | sort -u
}

echo "== the unmutated copy's tests"
failed=$(run_tests)
if [[ -n $failed ]] || ! grep -q "100% tests passed" "$log"; then
  echo "the tests fail without any mutation:" $failed
  tail -20 "$log"
  exit 1
fi

# apply FILE ORIGINAL REPLACEMENT: 0 done, 3 original not found, 4 found more than once
apply() {
  perl -e '
    my ($file, $old, $new) = @ARGV;
    open(my $in, "<", $file) or die "$file: $!\n";
    local $/;
    my $text = <$in>;
    close $in;
    my $at = index($text, $old);
    exit 3 if $at < 0;
    exit 4 if index($text, $old, $at + 1) >= 0;
    substr($text, $at, length $old) = $new;
    open(my $out, ">", $file) or die "$file: $!\n";
    print $out $text;
    close $out or die "$file: $!\n";' "$@"
}

n=0 caught=0 bad=0
summary=()
while IFS=$'\t' read -r file old new what rest || [[ -n $file ]]; do
  [[ -z $file || $file == \#* ]] && continue
  [[ -n $match && ! $what =~ $match ]] && continue
  n=$((n + 1))
  if [[ -z $what || -n $rest ]]; then
    summary+=("ERROR     line '$file ...': needs exactly four tab-separated fields")
    bad=$((bad + 1))
    continue
  fi
  cp "$src/$file" "$scratch/original"
  status=0
  apply "$src/$file" "$old" "$new" || status=$?
  if ((status)); then
    summary+=("ERROR     $what: the original text is $([[ $status == 3 ]] && echo "not in" || echo "more than once in") $file")
    bad=$((bad + 1))
    continue
  fi
  printf '%-60s ' "$what" | cut -c1-60 | tr -d '\n'
  start=$SECONDS
  if ! cmake --build "$build" -j"$jobs" >"$log" 2>&1; then
    echo " does not build"
    summary+=("ERROR     $what: does not build (a mutation must compile)")
    bad=$((bad + 1))
  else
    failed=$(run_tests | tr '\n' ' ')
    if [[ -n $failed ]]; then
      echo " caught ($((SECONDS - start)) s)"
      summary+=("caught    $what: $failed")
      caught=$((caught + 1))
    else
      echo " SURVIVED"
      summary+=("SURVIVED  $what ($file)")
    fi
  fi
  cat "$scratch/original" >"$src/$file" # a fresh modification time: make rebuilds it
done <"$list"

echo
echo "== $caught of $n mutations caught$( ((fast)) && echo " (--fast: the first failing tests only)")"
printf '%s\n' "${summary[@]}"
((n > 0 && caught == n)) || exit 1
