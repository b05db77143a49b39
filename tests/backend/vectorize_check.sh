#!/bin/sh
# vectorize_check.sh NNC CC MODEL WORK — at spec §7's cc -O2 -std=c99, GCC leaves no element-wise
# loop of the generated nnc_train(), nnc_infer() and their parallel loops (nnc_taskN) scalar for
# "control flow in loop" when it chooses (nnc_select, or a ?:): written as a ?: whose arm does
# floating-point arithmetic or loads an array element, such a loop is not vectorized (GCC does not
# turn the ?: into a vector select), which is why emit.c has nnc_select. Such a loop runs several
# times slower: SELU's took a third of fashion_snn's training step, relu's gradient 11 % of resnet20's.
# GCC only (its -fopt-info wording); backend.cmake adds the test for GCC alone.
set -eu
nnc=$1 cc=$2 model=$3 work=$4
name=$(basename "$model" .nn)
rm -rf "$work"
mkdir -p "$work"
"$nnc" build "$model" -o "$work/gen" --no-blas
(cd "$work/gen" && "$cc" -std=c99 -O2 -fopt-info-vec-missed -c "$name.c" -o "$work/$name.o") 2> "$work/info.txt"
# the messages' line numbers within nnc_train(), nnc_infer() and nnc_taskN() (from NNC_HOT to the next "}")
awk -v src="$work/gen/$name.c" -v file="$name.c" '
  BEGIN {
    while ((getline text < src) > 0) {
      line++
      if (text ~ /^NNC_HOT static .*(nnc_train|nnc_infer|nnc_task[0-9]+)\(/) { inside = text; sub(/\(.*/, "", inside); sub(/.* /, "", inside); sub(/^\*/, "", inside) }
      else if (inside != "" && text == "}") inside = ""
      in_fn[line] = inside; code[line] = text
      if (text ~ /^NNC_HOT static .*(nnc_train|nnc_infer)\(/) found++
    }
    if (found != 2) { print "expected nnc_train() and nnc_infer() in " file > "/dev/stderr"; exit 2 }
  }
  index($0, file ":") == 1 && /missed: not vectorized: control flow in loop/ {
    split($0, part, ":"); at = part[2] + 0
    body = code[at + 1] code[at + 2] code[at + 3] code[at + 4] # the element-wise loops are short
    if (in_fn[at] != "" && (index(body, "nnc_select(") || index(body, " ? ")) && !seen[at]++) { print "  " file ":" at " (" in_fn[at] "): " code[at]; bad++ }
  }
  END { if (found == 2 && bad) { print "loops left scalar for control flow at -O2" > "/dev/stderr"; exit 1 } }
' "$work/info.txt"
echo "$name: no loop of nnc_train(), nnc_infer() or a task is left scalar for control flow"
