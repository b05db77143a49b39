#!/bin/sh
# plot_render.sh NNC REPO WORK — `nnc plot`: the SVG's content, its errors, and how it looks in a
# real browser.
#   1. a CSV of 3 recorded steps x 12 layers (written here; one layer's gradient norm NaN, one
#      variance 0): exit 0, an SVG titled with the model, one line per step in each depth panel
#      (split where a value cannot go on a log scale) plus the loss line, no script, no external file
#   2. bad input: a missing column, a short row, a bad number, a missing file (exit 1, FILE:LINE:
#      message, no SVG written), no -o (exit 2)
#   3. headless Chromium screenshots the SVG and png_check.py finds the picture drawn (not blank,
#      both panels' lines coloured). Without chromium (Debian package `chromium`; scripts/setup
#      --torch installs it) or python3 the render is SKIPPED (exit 77), unless NNC_REQUIRE_CHROMIUM=1
#      (CI), where that is a failure.
set -u
NNC=$1 REPO=$2 WORK=$3
rm -rf "$WORK" && mkdir -p "$WORK" || exit 1
fail=0
awk 'BEGIN { print "step,epoch,layer,op,depth,act_mean,act_var,grad_norm,dead_frac,loss,model"
             for (s = 1; s <= 3; s++) for (d = 0; d < 12; d++) {
               v = (d == 5 && s == 2) ? 0 : exp(-d * s * 0.7); g = (d == 3) ? "nan" : exp(d * 0.4 - s)
               printf "%d,1,dense.%d,dense,%d,0.1,%.9g,%s,0.5,%.4f,plot_demo\n", s * 10, d + 1, d, v, g, 2.5 / s } }' \
  > "$WORK/stats.csv"
"$NNC" plot "$WORK/stats.csv" -o "$WORK/out/stats.svg" || { echo "FAIL: nnc plot exit $?"; exit 1; }
svg="$WORK/out/stats.svg"
grep -q '<text[^>]*>plot_demo</text>' "$svg" || { echo "FAIL: no title with the model's name"; fail=1; }
# per depth panel: 3 steps, step 20's variance line split at its 0, every gradient line at the NaN
lines=$(grep -c '<polyline' "$svg")
[ "$lines" -eq 11 ] || { echo "FAIL: $lines polylines, want 11 (3 + 1 variance, 6 gradient, 1 loss)"; fail=1; }
grep -qi '<script\|href="http\|xlink:href\|<image' "$svg" && { echo "FAIL: the SVG is not self-contained"; fail=1; }
grep -q 'training loss' "$svg" || { echo "FAIL: no loss panel"; fail=1; }

expect_error() { # expect_error STATUS PATTERN ARGS...
  want=$1 pattern=$2; shift 2
  "$NNC" plot "$@" -o "$WORK/bad.svg" > "$WORK/err.txt" 2>&1; rc=$?
  if [ $rc -ne "$want" ] || ! grep -q "$pattern" "$WORK/err.txt" || [ -e "$WORK/bad.svg" ]; then
    echo "FAIL: nnc plot $*: exit $rc, want $want and '$pattern':"; cat "$WORK/err.txt"; fail=1
  fi
}
printf 'step,layer,depth,act_mean,grad_norm\n1,a,0,1,1\n' > "$WORK/nocol.csv"
expect_error 1 "nocol.csv:1: error: the header has no 'act_var' column" "$WORK/nocol.csv"
head -3 "$WORK/stats.csv" > "$WORK/short.csv"; echo "10,1,dense.9,dense,8,0.1" >> "$WORK/short.csv"
expect_error 1 "short.csv:4: error: 6 fields where the header has 11" "$WORK/short.csv"
head -2 "$WORK/stats.csv" > "$WORK/badnum.csv"; echo "10,1,dense.9,dense,8,0.1,0.5x,1,0,1,m" >> "$WORK/badnum.csv"
expect_error 1 "badnum.csv:3: error: act_var '0.5x' is not a number" "$WORK/badnum.csv"
expect_error 1 "cannot open" "$WORK/missing.csv"
"$NNC" plot "$WORK/stats.csv" > /dev/null 2>&1; [ $? -eq 2 ] || { echo "FAIL: plot without -o: not exit 2"; fail=1; }

chromium=$(command -v chromium || command -v chromium-browser || true)
python=$(command -v python3 || true)
if [ -z "$chromium" ] || [ -z "$python" ]; then
  if [ "${NNC_REQUIRE_CHROMIUM:-0}" = 1 ]; then echo "FAIL: chromium or python3 missing and NNC_REQUIRE_CHROMIUM=1"; exit 1; fi
  [ $fail -eq 0 ] || exit 1
  echo "SKIPPED: the browser render (no chromium or python3; apt-get install chromium)"; exit 77
fi
HOME=$WORK timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
  --user-data-dir="$WORK/chromium" --window-size=1000,700 --screenshot="$WORK/stats.png" "file://$svg" \
  > "$WORK/chromium.log" 2>&1
[ -s "$WORK/stats.png" ] || { echo "FAIL: chromium wrote no screenshot:"; tail -5 "$WORK/chromium.log"; exit 1; }
"$python" "$REPO/tests/stats/png_check.py" "$WORK/stats.png" || fail=1
[ $fail -eq 0 ] && echo "plot_render: ok ($WORK/stats.png)"
exit $fail
