#!/usr/bin/env bash
# Render a run directory's report.html in headless Chromium (Debian's `chromium`, installed
# with apt-get when missing) and check it as a reader would see it:
#   - every section of the page is present (a section that does not apply says why in words),
#     and a screenshot of each one alone is not blank: SHOTS/report-section-NAME.png;
#   - the page logs no console errors, and loads nothing from the network;
#   - it fits a phone's width (390 px) without sideways scrolling of the page itself:
#     SHOTS/report-phone.png;
#   - it prints to PDF with each section on a new page: SHOTS/report.pdf;
#   - the top of the page and the whole page at 1200 px: SHOTS/report-top.png, report-full.png.
# Usage: report_browser_test.sh RUN_DIR SCREENSHOT_DIR
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
work=$(mktemp -d)
# Chromium's helper processes can outlive it by a moment and still write to the profile;
# a failed clean-up of a temporary directory must not fail the test.
trap 'rm -rf "$work" 2>/dev/null || { sleep 2; rm -rf "$work" || true; }' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --user-data-dir="$work/profile" --hide-scrollbars --enable-logging=stderr --v=0
  --virtual-time-budget=3000)
status=0

# Every section the page must have, in page order; optional ones are checked when present.
required="s-overview s-fit s-contributions s-channels s-curves s-optimizer s-scenarios s-refresh s-priors s-diagnostics s-provenance"

# chromium ARGS... with console errors reported; stdout goes to $work/out.
browse() {
  local what=$1; shift
  chromium "${flags[@]}" "$@" >"$work/out" 2>"$work/log" || true
  if grep -E "CONSOLE|Uncaught|Refused to|ERR_" "$work/log" | grep -viE "DevTools|dbus|gpu|sandbox"; then
    echo "console errors while rendering $what" >&2; status=1
  fi
}

# A copy of the report with extra CSS (and script) before </head>.
variant() {
  local name=$1 extra=$2
  python3 - "$html" "$work/$name.html" "$extra" <<'PY'
import sys
src, dst, extra = sys.argv[1:4]
page = open(src, encoding="utf-8").read()
open(dst, "w", encoding="utf-8").write(page.replace("</head>", extra + "</head>", 1))
PY
  echo "file://$work/$name.html"
}

# Sections present, and their heights at 1200 px (a script in a test copy measures them).
sections=$(python3 - "$html" "$required" <<'PY'
import re, sys
page = open(sys.argv[1], encoding="utf-8").read()
found = re.findall(r'<section class="sec" id="(s-[a-z-]+)">', page)
missing = [s for s in sys.argv[2].split() if s not in found]
if missing:
    sys.exit(f"sections missing from the report: {' '.join(missing)}")
for bad in ("<script", "<link ", 'src="http', "href=\"http", "@import", "url(http"):
    if bad in page:
        sys.exit(f"the report references an external resource or script: {bad}")
print(" ".join(found))
PY
) || { echo "$sections" >&2; exit 1; }
measure='<script>addEventListener("load",()=>{const o={w:document.documentElement.scrollWidth,v:innerWidth,s:{}};for(const s of document.querySelectorAll("section.sec"))o.s[s.id]=Math.ceil(s.getBoundingClientRect().height);document.body.setAttribute("data-measure",JSON.stringify(o));});</script>'
url=$(variant measure "$measure")
browse "measure" --window-size=1200,1000 --dump-dom "$url"
heights=$(python3 -c '
import html, json, re, sys
m = re.search(r"data-measure=\"([^\"]*)\"", open(sys.argv[1]).read())
print(json.dumps(json.loads(html.unescape(m.group(1)))["s"]) if m else "{}")' "$work/out")

# Phone width: the page itself must not scroll sideways (wide tables scroll in their box).
url=$(variant phone "$measure")
browse "phone" --window-size=390,1000 --dump-dom "$url"
python3 -c '
import html, json, re, sys
m = re.search(r"data-measure=\"([^\"]*)\"", open(sys.argv[1]).read())
o = json.loads(html.unescape(m.group(1)))
w, v = o["w"], o["v"]
sys.exit(0 if w <= v + 1 else f"at a phone width of {v} px the page is {w} px wide")' "$work/out" || status=1

# PNG check: the share of pixels that are not background must be above a floor.
not_blank() {
  python3 - "$1" <<'PY' || status=1
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
    if f == 1:
        for i in range(bpp, stride): row[i] = (row[i] + row[i - bpp]) & 255
    elif f == 2:
        row = bytearray((a + b) & 255 for a, b in zip(row, prev))
    elif f == 3:
        for i in range(stride): row[i] = (row[i] + ((row[i - bpp] if i >= bpp else 0) + prev[i]) // 2) & 255
    elif f == 4:
        for i in range(stride):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    coloured += sum(1 for x in range(0, stride, bpp) if min(row[x:x + 3]) < 200)
    prev = row
share = coloured / (w * h)
print(f"{path}: {w}x{h}, {share:.1%} non-background pixels")
sys.exit(0 if share > 0.01 else 1)
PY
}

# Each section alone, at 1200 px, as tall as it is.
for s in $sections; do
  h=$(python3 -c 'import json,sys; print(max(300, min(16000, json.loads(sys.argv[1]).get(sys.argv[2], 2000) + 60)))' "$heights" "$s")
  url=$(variant "$s" "<style>header{display:none}section.sec:not(#$s){display:none}</style>")
  browse "$s" --window-size=1200,"$h" --screenshot="$shots/report-section-${s#s-}.png" "$url"
  not_blank "$shots/report-section-${s#s-}.png"
done

# The top and the whole page at 1200 px, the top at a phone's width.
url="file://$(cd "$(dirname "$html")" && pwd)/report.html"
full=$(python3 -c 'import json,sys; print(min(60000, sum(json.loads(sys.argv[1]).values()) + 1200))' "$heights")
browse "top" --window-size=1200,1400 --screenshot="$shots/report-top.png" "$url"
browse "full" --window-size=1200,"$full" --screenshot="$shots/report-full.png" "$url"
browse "phone" --window-size=390,1600 --screenshot="$shots/report-phone.png" "$url"
for png in top phone; do not_blank "$shots/report-$png.png"; done

# Print to PDF: one page at least per section (each starts on a new page).
browse "pdf" --no-pdf-header-footer --print-to-pdf="$shots/report.pdf" "$url"
python3 - "$shots/report.pdf" $sections <<'PY' || status=1
import re, sys
data = open(sys.argv[1], "rb").read()
assert data[:5] == b"%PDF-", "not a PDF"
pages = len(re.findall(rb"/Type\s*/Page\b", data))
sections = len(sys.argv) - 2
print(f"{sys.argv[1]}: {pages} pages for {sections} sections")
sys.exit(0 if pages >= sections else "fewer PDF pages than sections: page breaks are missing")
PY
exit $status
