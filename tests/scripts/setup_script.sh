#!/bin/sh
# setup_script.sh — scripts/setup with stand-ins for id, dpkg-query, apt-get, sudo and cmake (no
# package is installed, nothing is built):
#   1. not root and no sudo, packages missing: exit 1, says so and prints the apt-get line to run;
#   2. as root: says what it installs, and asks apt-get to wait for the dpkg lock (not fail).
# usage: setup_script.sh REPO WORK
set -u
repo=$1 work=$2
rm -rf "$work"
mkdir -p "$work/bin"
for tool in bash dirname grep cat; do ln -s "$(command -v $tool)" "$work/bin/$tool"; done
cat > "$work/bin/dpkg-query" <<'EOF'
#!/bin/sh
exit 1
EOF
cat > "$work/bin/apt-get" <<EOF
#!/bin/sh
echo "apt-get \$*" >> "$work/apt.log"
EOF
cat > "$work/bin/cmake" <<'EOF'
#!/bin/sh
exit 0
EOF
cat > "$work/bin/nproc" <<'EOF'
#!/bin/sh
echo 1
EOF
printf '#!/bin/sh\necho 1000\n' > "$work/bin/id"
chmod +x "$work/bin/"*
status=0

PATH="$work/bin" bash "$repo/scripts/setup" > "$work/out1.txt" 2>&1
rc=$?
cat "$work/out1.txt"
[ $rc -eq 1 ] || { echo "FAIL: not root, no sudo: exit $rc, expected 1"; status=1; }
grep -q "no sudo" "$work/out1.txt" || { echo "FAIL: not root, no sudo: not said"; status=1; }
grep -q "apt-get install --no-install-recommends .*libopenblas-dev.*libopenmpi-dev openmpi-bin" "$work/out1.txt" ||
  { echo "FAIL: not root, no sudo: the command to run is not shown"; status=1; }
[ ! -e "$work/apt.log" ] || { echo "FAIL: apt-get ran without root"; status=1; }

printf '#!/bin/sh\necho 0\n' > "$work/bin/id"
PATH="$work/bin" bash "$repo/scripts/setup" > "$work/out2.txt" 2>&1
rc=$?
cat "$work/out2.txt" "$work/apt.log"
[ $rc -eq 0 ] || { echo "FAIL: as root: exit $rc"; status=1; }
grep -q "installing .*cmake" "$work/out2.txt" || { echo "FAIL: as root: does not say what it installs"; status=1; }
grep -q "install .*Lock::Timeout\|Lock::Timeout.* install" "$work/apt.log" ||
  { echo "FAIL: apt-get install does not wait for the dpkg lock"; status=1; }
[ $status -eq 0 ] && echo "ok: scripts/setup explains a missing sudo, lists its packages and waits for the lock"
exit $status
