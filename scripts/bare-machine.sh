#!/usr/bin/env bash
# Proof that `npm test` passes on a machine with only Node: a fresh clone of
# HEAD, `npm ci`, then `npm test` with every program the suites need hidden
# from PATH (test/helpers/needs.json). It must pass and print the one summary
# line naming the skipped suites; the same setting under SLUICE_STRICT=1 must
# fail. Run by `.ci/run`; locally: `bash scripts/bare-machine.sh`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d /tmp/sluice-bare-XXXXXX)"
trap 'rm -rf "$work"' EXIT

# A PATH with everything on this machine's PATH but the needed programs.
hidden=$(node -e 'const n=require(process.argv[1]);console.log(Object.keys(n).filter(k=>k!=="python3-requests").join(" "))' "$root/test/helpers/needs.json")
mkdir -p "$work/bin"
IFS=: read -r -a dirs <<<"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
for d in "${dirs[@]}"; do
  [ -d "$d" ] || continue
  for f in "$d"/*; do
    name=$(basename "$f")
    case " $hidden " in *" $name "*) continue ;; esac
    case "$name" in python* | pip* | java* | chromium* | redis-* | nginx*) continue ;; esac
    [ -e "$work/bin/$name" ] || ln -s "$f" "$work/bin/$name"
  done
done
bare_path="$work/bin"

git clone -q "$root" "$work/clone"
cd "$work/clone"
npm ci --no-audit --no-fund --loglevel=error

echo "bare-machine: npm test with $hidden hidden from PATH"
PATH="$bare_path" SLUICE_STRICT= npm test 2>&1 | tee "$work/out.txt" | tail -n 25
status=${PIPESTATUS[0]}
[ "$status" -eq 0 ] || { echo "bare-machine: npm test failed ($status) on a bare machine"; exit 1; }
grep -q '^sluice: skipped [0-9]* suites' "$work/out.txt" || { echo "bare-machine: no summary line"; exit 1; }

echo "bare-machine: the same setting under SLUICE_STRICT=1 must fail"
if PATH="$bare_path" SLUICE_STRICT=1 npx vitest run test/serve/python-client.test.ts test/hub/store.test.ts >"$work/strict.txt" 2>&1; then
  echo "bare-machine: strict mode passed with programs missing"; exit 1
fi
grep -q 'SLUICE_STRICT=1 and' "$work/strict.txt" || { echo "bare-machine: strict failure does not name the install command"; cat "$work/strict.txt" | tail -20; exit 1; }
echo "bare-machine: ok (skips named in one line; strict fails)"
