#!/usr/bin/env bash
# End-to-end test of `mmm studio` in headless Chromium (Debian's `chromium`, installed with
# apt-get when missing, as scripts/report_browser_test.sh does), driven over the DevTools
# protocol by a small stdlib-only Python client (no websocket package, no network):
#   - opens the runs list, a run page, the planner and a comparison; screenshots of each go to
#     SHOTS/studio-{runs,run,planner,compare}.png;
#   - in the planner, moves the first channel's spend slider with the keyboard (ArrowRight),
#     waits for the evaluation and reads the displayed lift, lift vs current and P(beats
#     current); `mmm scenario` on the same plan (the plan's CSV, which the page offers for
#     download) must give the same numbers at the displayed precision;
#   - saves the plan and checks the decision record in the plans directory (the plan's name,
#     weeks and spend), and that nothing under the runs directory changed;
#   - the pages log no console errors or policy violations.
# Usage: studio_browser_test.sh MMM RUNS_DIR SHOTS_DIR
# RUNS_DIR must hold the verified runs `fixture` and `fixture-b` (xtask makes them).
set -euo pipefail
mmm=$(realpath "$1")
runs=$(realpath "$2")
shots=$3
if ! command -v chromium >/dev/null; then
  echo "installing Debian's chromium" >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium
  else sudo apt-get update -q && sudo apt-get install -y -q chromium; fi
fi
mkdir -p "$shots"
shots=$(realpath "$shots")
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  # Chromium's helper processes can outlive the browser by a moment and still write to
  # the profile; a failed clean-up of a temporary directory must not fail the test.
  rm -rf "$work" 2>/dev/null || { sleep 2; rm -rf "$work" || true; }
}
trap cleanup EXIT

# The studio on a free port; its first stdout line names the address.
"$mmm" studio --runs "$runs" --port 0 --plans "$work/plans" >"$work/studio.out" 2>"$work/studio.err" &
pids+=($!)
for _ in $(seq 1 100); do
  grep -q '^studio: ' "$work/studio.out" 2>/dev/null && break
  sleep 0.1
done
url=$(sed -n 's/^studio: //p' "$work/studio.out" | head -1)
[ -n "$url" ] || { echo "the studio did not start:" >&2; cat "$work/studio.err" >&2; exit 1; }

# Headless Chromium with the DevTools protocol on a free port.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --hide-scrollbars --user-data-dir="$work/profile" --window-size=1280,1000 \
  --remote-debugging-port="$port" about:blank >"$work/chromium.out" 2>&1 &
pids+=($!)

find "$runs" -type f -printf '%p %s %T@\n' | sort >"$work/runs-before"
python3 - "$port" "$url" "$mmm" "$runs" "$work" "$shots" <<'PY'
import base64, csv, io, json, os, socket, struct, subprocess, sys, time, urllib.parse, urllib.request

port, studio, mmm, runs, work, shots = sys.argv[1:7]

class WebSocket:
    """A minimal RFC 6455 client: text frames, masked, no extensions."""
    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.s = socket.create_connection((u.hostname, u.port), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall((f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.s.recv(1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise SystemExit(f"websocket handshake failed: {head!r}")
    def _read(self, n):
        b = b""
        while len(b) < n:
            chunk = self.s.recv(n - len(b))
            if not chunk:
                raise SystemExit("the browser closed the connection")
            b += chunk
        return b
    def send(self, text):
        data = text.encode()
        head = bytes([0x81])
        n = len(data)
        if n < 126: head += bytes([0x80 | n])
        elif n < 65536: head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else: head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.s.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
    def recv(self):
        message = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126: n = struct.unpack(">H", self._read(2))[0]
            elif n == 127: n = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(n)
            op = b0 & 0x0F
            if op == 0x9:  # ping
                self.s.sendall(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
                continue
            if op == 0x8:
                raise SystemExit("the browser closed the DevTools connection")
            message += payload
            if b0 & 0x80:
                return message.decode()

class Page:
    def __init__(self, ws):
        self.ws, self.next_id, self.events = ws, 0, []
    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise SystemExit(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)
    def js(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise SystemExit(f"script failed: {expr}: {r['exceptionDetails']}")
        return r["result"].get("value")
    def wait(self, expr, what, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            v = self.js(expr)
            if v:
                return v
            time.sleep(0.1)
        raise SystemExit(f"timed out waiting for {what}")
    def goto(self, hash_, ready, what):
        self.js(f"location.hash = {json.dumps(hash_)}")
        return self.wait(ready, what)
    def shot(self, name):
        h = self.js("Math.min(4000, document.documentElement.scrollHeight)")
        self.call("Emulation.setDeviceMetricsOverride", width=1280, height=int(h), deviceScaleFactor=1, mobile=False)
        png = base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
        self.call("Emulation.clearDeviceMetricsOverride")
        path = os.path.join(shots, f"studio-{name}.png")
        open(path, "wb").write(png)
        print(f"screenshot {path} ({len(png)} bytes)")

# The browser's first page.
for _ in range(100):
    try:
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        pages = [t for t in targets if t.get("type") == "page"]
        if pages:
            break
    except OSError:
        pass
    time.sleep(0.1)
else:
    raise SystemExit("Chromium did not open its DevTools port")
page = Page(WebSocket(pages[0]["webSocketDebuggerUrl"]))
for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
    page.call(domain)
page.call("Page.navigate", url=studio)
page.wait("document.querySelector('#runs tbody tr') !== null", "the runs list")
page.wait("document.querySelector('tr[data-run=fixture]') !== null", "the fixture run in the list")
assert "verified" in page.js("document.querySelector('tr[data-run=fixture]').textContent")
page.shot("runs")

page.goto("#/run/fixture", "document.querySelector('#channels') !== null && document.querySelector('iframe.report') !== null", "the run page")
time.sleep(1.0)  # the report's frame
# Hover a ROAS row and toggle a component: the tooltip shows values, the toggle redraws.
page.js("(() => { const r = document.querySelector('svg .row rect'); const b = r.getBoundingClientRect();"
        " r.dispatchEvent(new MouseEvent('mousemove', {clientX: b.left + 200, clientY: b.top + 5, bubbles: true})); })()")
tiptext = page.js("document.getElementById('tip') && document.getElementById('tip').textContent")
assert tiptext and "x1" in tiptext, f"hover shows no value: {tiptext!r}"
page.js("document.querySelector('#tip').style.display = 'none'")
page.shot("run")

# The planner: wait for the first evaluation, then move x1's slider with the keyboard.
page.goto("#/plan/fixture", "document.getElementById('status') && document.getElementById('status').dataset.done", "the planner's first evaluation")
first = page.js("document.getElementById('status').dataset.done")
before = page.js("document.getElementById('gain-mean').textContent")
page.js("document.querySelector('input[type=range]').focus()")
for _ in range(40):
    for kind in ("keyDown", "keyUp"):
        page.call("Input.dispatchKeyEvent", type=kind, key="ArrowRight", code="ArrowRight", windowsVirtualKeyCode=39, nativeVirtualKeyCode=39)
page.wait(f"(() => {{ const s = document.getElementById('status'); return s.dataset.done && s.dataset.done !== {json.dumps(first)} && !s.textContent.startsWith('evaluating'); }})()", "the evaluation after moving the slider")
time.sleep(0.5)
page.wait("!document.getElementById('status').textContent.startsWith('evaluating')", "the last evaluation")
shown = page.js("({lift: document.getElementById('lift-mean').textContent, gain: document.getElementById('gain-mean').textContent,"
                " p: document.getElementById('p-beats').textContent, csv: decodeURIComponent(document.getElementById('plan-csv').getAttribute('href').split(',').slice(1).join(',')),"
                " status: document.getElementById('status').textContent})")
print(f"planner: lift {shown['lift']}, lift vs current {shown['gain']} (was {before}), P(beats current) {shown['p']}; {shown['status']}")
assert shown["gain"] != before, "moving the slider did not change the lift"
plan_csv = os.path.join(work, "plan.csv")
open(plan_csv, "w").write(shown["csv"])
run = os.path.join(runs, "fixture")
out = os.path.join(work, "scenario")
subprocess.run([mmm, "scenario", "--quiet", "--spec", f"{run}/spec.toml", "--features", f"{run}/features",
                "--fit", f"{run}/fit", "--plans", plan_csv, "--out", out], check=True)
cli = json.load(open(os.path.join(out, "comparison.json")))["scenarios"][0]
def fmt(x, digits=1):
    # The page's rounding: toFixed's (the exact binary value, halves away from zero).
    from decimal import Decimal, ROUND_HALF_UP
    q = Decimal(abs(x)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return ("-" if x < 0 and q != 0 else "") + f"{q:,.{digits}f}"
expected = {"lift": fmt(cli["lift"]["mean"]), "gain": fmt(cli["lift_minus_current"]["mean"]), "p": fmt(100 * cli["prob_beats_current"]) + "%"}
for k, v in expected.items():
    if shown[k] != v:
        raise SystemExit(f"the studio shows {k} = {shown[k]}, `mmm scenario` on the same plan gives {v}")
print(f"equal to `mmm scenario` on the same plan: lift {expected['lift']}, vs current {expected['gain']}, P {expected['p']}")
page.shot("planner")

# Save the plan: a decision record in the plans directory.
page.js("document.getElementById('plan-name').value = 'e2e'; document.getElementById('save').click()")
saved = page.wait("(() => { const s = document.getElementById('saved'); return s && s.textContent.startsWith('Saved') && s.textContent; })()", "the saved plan")
record_path = os.path.join(work, "plans", "fixture--e2e", "decision_record.json")
record = json.load(open(record_path))
rows = list(csv.DictReader(io.StringIO(shown["csv"])))
assert record["plan_name"] == "e2e", record["plan_name"]
assert len(record["weeks"]) == len(rows)
for c, ch in enumerate(record["channels"]):
    for w, row in enumerate(rows):
        assert abs(record["spend"][c][w] - float(row[ch])) <= 1e-9 * max(1.0, abs(float(row[ch]))), (ch, w)
mean = sum(record["lift_per_draw"]) / len(record["lift_per_draw"])
assert fmt(mean) == expected["lift"], (fmt(mean), expected["lift"])
print(f"saved: {saved}")

page.goto("#/compare/fixture/fixture-b", "document.querySelector('#spec-changes') !== null", "the comparison")
page.shot("compare")

errors = [e for e in page.events if e.get("method") in ("Runtime.exceptionThrown",)
          or (e.get("method") == "Runtime.consoleAPICalled" and e["params"].get("type") == "error")
          or (e.get("method") == "Log.entryAdded" and e["params"]["entry"].get("level") == "error")]
if errors:
    raise SystemExit("console errors: " + json.dumps(errors)[:2000])
print("studio e2e: ok")
PY
find "$runs" -type f -printf '%p %s %T@\n' | sort >"$work/runs-after"
if ! diff -q "$work/runs-before" "$work/runs-after" >/dev/null; then
  echo "the studio changed files under the runs directory:" >&2
  diff "$work/runs-before" "$work/runs-after" >&2 || true
  exit 1
fi
echo "runs directory unchanged"
