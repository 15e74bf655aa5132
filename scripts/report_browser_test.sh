#!/usr/bin/env bash
# Render a run directory's report.html in headless Chromium (Debian's `chromium`, installed
# with apt-get when missing): screenshots of the main sections must not be blank and the page
# must log no console errors. Usage: report_browser_test.sh RUN_DIR SCREENSHOT_DIR
set -euo pipefail
run_dir=$1
shots=$2
html="$run_dir/report/report.html"
[ -f "$html" ] || { echo "no report at $html" >&2; exit 1; }
if ! command -v chromium >/dev/null; then
  echo "installing Debian's chromium" >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium
  else sudo apt-get update -q && sudo apt-get install -y -q chromium; fi
fi
mkdir -p "$shots"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --user-data-dir="$profile" --hide-scrollbars --enable-logging=stderr --v=0)
url="file://$(cd "$(dirname "$html")" && pwd)/report.html"
status=0
# The top (status, failed gates, summary) and the whole page (every section; headless
# screenshots do not scroll to fragments, so a tall window holds them all).
for section in top:1400 full:9000; do
  height=${section#*:}; section=${section%%:*}
  log="$shots/.$section.log"
  chromium "${flags[@]}" --window-size=1200,$height --screenshot="$shots/report-$section.png" "$url" 2>"$log" >/dev/null || true
  if grep -E "CONSOLE|Uncaught|Refused to" "$log" | grep -viE "DevTools|dbus"; then
    echo "console errors while rendering $section" >&2; status=1
  fi
  rm -f "$log"
  python3 - "$shots/report-$section.png" <<'PY' || status=1
import struct, sys, zlib
path = sys.argv[1]
data = open(path, "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path}: not a PNG"
pos, idat, w, h, ctype = 8, b"", 0, 0, 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
raw = zlib.decompress(idat)
bpp = {2: 3, 6: 4}[ctype]
stride = w * bpp
# Undo PNG row filters to count pixels that differ from the white background.
prev = bytearray(stride)
coloured = 0
for y in range(h):
    f = raw[y * (stride + 1)]
    row = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: row[i] = (row[i] + a) & 255
        elif f == 2: row[i] = (row[i] + b) & 255
        elif f == 3: row[i] = (row[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    coloured += sum(1 for x in range(0, stride, bpp) if min(row[x:x + 3]) < 200)
    prev = row
share = coloured / (w * h)
print(f"{path}: {w}x{h}, {share:.1%} non-background pixels")
sys.exit(0 if share > 0.01 else 1)
PY
done
exit $status
