"""The HTML reports of `xtpu profile` and `xtpu sweep`, opened in a real browser.

Makes a small model, runs `xtpu profile` and `xtpu sweep` on it, opens each
report from file:// in headless Chromium (Debian's chromium) over the Chrome
DevTools protocol (python3-websocket), and checks that:
  - nothing is logged to the console as an error and no exception is thrown,
    and the page makes no network request (the report is self-contained);
  - the roofline has one drawn point per row of ops.csv, inside the plot area;
  - the per-op table has one row per row of ops.csv and sorts on a click;
  - the utilization timeline has a series per unit kind and unit instance,
    each with every time bin, and the charts' canvases are not blank;
  - the sweep report has one table row per point (failed ones included) and
    one chart point per successful point.
Screenshots go to --out (default: a temp dir): profile.png, sweep.png.

  /usr/bin/python3 tests/report/test_report_browser.py --xtpu build/xtpu [--out DIR] [--model M]
"""
import argparse
import base64
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket

# Two matmuls, a fused relu and a floor: MXU, VPU and DMA all work.
TIR_MLP = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "mlp.tir")).read()

FAILURES = []


def check(cond, what):
    print(("ok:   " if cond else "FAIL: ") + what, flush=True)
    if not cond:
        FAILURES.append(what)


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """Headless Chromium driven over the DevTools protocol (one page)."""

    def __init__(self, binary, profile_dir):
        args = [binary, "--headless=new", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-background-networking", "--hide-scrollbars",
                "--remote-debugging-port=0", "--user-data-dir=" + profile_dir, "--window-size=1300,900",
                "about:blank"]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        port = None
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                if self.proc.poll() is not None:
                    break
                continue
            m = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if m:
                port = int(m.group(1))
                break
        if port is None:
            raise RuntimeError("chromium did not start its DevTools server")
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30))
        page = next(t for t in targets if t.get("type") == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)
        self.next_id = 0
        self.events = []
        for domain in ("Runtime", "Log", "Page", "Network"):
            self.call(domain + ".enable")

    def call(self, method, **params):
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, method, timeout=60):
        for i, e in enumerate(self.events):
            if e["method"] == method:
                return self.events.pop(i)
        deadline = time.time() + timeout
        while time.time() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("method") == method:
                return msg
            if "method" in msg:
                self.events.append(msg)
        raise RuntimeError(f"timed out waiting for {method}")

    def evaluate(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"evaluating {expr[:60]}...: {r['exceptionDetails']}")
        return r["result"].get("value")

    def open(self, path):
        self.events = []
        self.call("Page.navigate", url="file://" + os.path.abspath(path))
        self.wait_event("Page.loadEventFired")
        time.sleep(0.3)  # let the last frame draw

    def problems(self):
        """Console errors, uncaught exceptions and network requests since open()."""
        # Drain what arrived while we were not reading.
        self.ws.settimeout(0.5)
        try:
            while True:
                msg = json.loads(self.ws.recv())
                if "method" in msg:
                    self.events.append(msg)
        except websocket.WebSocketTimeoutException:
            pass
        finally:
            self.ws.settimeout(60)
        out = []
        for e in self.events:
            m, p = e["method"], e.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append("exception: " + json.dumps(p.get("exceptionDetails", {}))[:300])
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert", "warning"):
                out.append("console " + p["type"] + ": " + json.dumps(p.get("args", []))[:300])
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append("log: " + p["entry"].get("text", ""))
            elif m == "Network.requestWillBeSent":
                url = p.get("request", {}).get("url", "")
                if not url.startswith(("file:", "data:", "about:")):
                    out.append("network request: " + url)
        return out

    def screenshot(self, path):
        height = self.evaluate("document.documentElement.scrollHeight")
        self.call("Emulation.setDeviceMetricsOverride", width=1300, height=min(int(height), 6000), deviceScaleFactor=1,
                  mobile=False)
        time.sleep(0.5)  # charts resize
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        self.call("Emulation.clearDeviceMetricsOverride")

    def close(self):
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# Drawn points of the chart's datasets marked xtpuOps (the ops, not the
# ceilings), and how many lie inside the plot area.
JS_ROOFLINE = """(() => {
  const c = window.xtpu.charts.roofline, a = c.chartArea;
  let n = 0, inside = 0;
  c.data.datasets.forEach((d, i) => {
    if (!d.xtpuOps) return;
    for (const p of c.getDatasetMeta(i).data) {
      n++;
      if (isFinite(p.x) && isFinite(p.y) && p.x >= a.left - 1 && p.x <= a.right + 1 && p.y >= a.top - 1 && p.y <= a.bottom + 1) inside++;
    }
  });
  return {n, inside};
})()"""

# Non-background pixels of a canvas: a blank chart has none.
JS_INK = """((id) => {
  const c = document.getElementById(id), g = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let ink = 0;
  for (let i = 3; i < g.length; i += 4) if (g[i] > 0) ink++;
  return ink;
})"""


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr}")
    return r


def test_profile(browser, xtpu, model, work, out):
    pdir = os.path.join(work, "profile")
    run([xtpu, "profile", model, "--chip", "v4", "-o", pdir, "-q"])
    with open(os.path.join(pdir, "ops.csv")) as f:
        ops = list(csv.DictReader(f))
    check(len(ops) >= 3, f"ops.csv has {len(ops)} ops")
    browser.open(os.path.join(pdir, "report.html"))
    check(browser.evaluate("typeof Chart") == "function", "Chart.js is loaded from the page itself")
    roof = browser.evaluate(JS_ROOFLINE)
    check(roof["n"] == len(ops), f"roofline draws {roof['n']} op points for {len(ops)} ops")
    check(roof["inside"] == len(ops), f"{roof['inside']} of {len(ops)} roofline points inside the plot area")
    rows = browser.evaluate("document.querySelectorAll('#ops tbody tr').length")
    check(rows == len(ops), f"per-op table has {rows} rows for {len(ops)} ops")
    names = browser.evaluate("[...document.querySelectorAll('#ops tbody tr td:nth-child(2)')].map(t => t.textContent)")
    check(sorted(names) == sorted(o["name"] for o in ops), "table rows are the ops of ops.csv")
    # Default order: by time, longest first; a click on "time" reverses it.
    by_time = [o["name"] for o in sorted(ops, key=lambda o: -float(o["cycles"]))]
    check(names[0] == by_time[0], f"table sorted by time: first row {names[0]}, expected {by_time[0]}")
    tl = browser.evaluate("""(() => { const c = window.xtpu.charts.timeline;
        return c.data.datasets.map((d, i) => ({label: d.label, n: d.data.length}));})()""")
    stats = json.load(open(os.path.join(pdir, "stats.json")))
    units = stats["profile"]["timeline"]["units"]
    bins = len(stats["profile"]["timeline"]["hbm"])
    kinds = {u["kind"] for u in units}
    check(len(tl) == len(units) + len(kinds) + 1,
          f"timeline has {len(tl)} series: {len(units)} units, {len(kinds)} kinds and HBM")
    check(all(s["n"] == bins for s in tl), f"every timeline series has {bins} bins")
    for canvas in ("roofline", "timeline", "bounds"):
        ink = browser.evaluate(JS_INK + f"('{canvas}')")
        check(ink > 2000, f"{canvas} chart is drawn ({ink} pixels)")
    chip = browser.evaluate("document.getElementById('chip').textContent")
    check("mxu.rows" in chip, "chip description shown")
    problems = browser.problems()
    check(not problems, "no console errors, exceptions or network requests: " + "; ".join(problems))
    browser.screenshot(os.path.join(out, "profile.png"))
    browser.evaluate("[...document.querySelectorAll('#ops th')].find(t => t.textContent.startsWith('time')).click()")
    first = browser.evaluate("document.querySelector('#ops tbody tr td:nth-child(2)').textContent")
    check(first == by_time[-1], f"after a click on 'time' the shortest op comes first ({first})")
    # A click on a row marks the op on the roofline and its time span on the timeline.
    browser.evaluate("document.querySelector('#ops tbody tr').click()")
    sel = browser.evaluate("""(() => { const o = window.xtpu.selected, s = window.xtpu.charts.timeline.$xtpuSpan;
        const a = window.xtpu.charts.roofline.getActiveElements();
        const p = a.length ? window.xtpu.charts.roofline.data.datasets[a[0].datasetIndex].data[a[0].index] : null;
        return {o, span: s ? [s.from, s.to] : null, point: p && p.op ? p.op.index : null,
                rows: document.querySelectorAll('#ops tbody tr.selected').length}; })()""")
    op = stats["profile"]["ops"][sel["o"]]
    mhz = stats["profile"]["peaks"]["clock_hz"] / 1e6
    check(op["name"] == by_time[-1], f"the clicked row selects {op['name']}")
    check(sel["point"] == sel["o"] and sel["rows"] == 1, f"selection marks one row and its roofline point: {sel}")
    want = [op["start_cycle"] / mhz, (op["start_cycle"] + op["cycles"]) / mhz]
    check(sel["span"] is not None and all(abs(a - b) < 1e-6 for a, b in zip(sel["span"], want)),
          f"timeline span {sel['span']} is the op's time {want}")
    browser.evaluate("document.getElementById('filter').value = 'zzz-no-such-op';"
                     "document.getElementById('filter').dispatchEvent(new Event('input'))")
    rows = browser.evaluate("document.querySelectorAll('#ops tbody tr').length")
    check(rows == 0, f"a filter that matches nothing leaves {rows} rows")


def test_sweep(browser, xtpu, model, work, out):
    sdir = os.path.join(work, "sweep")
    run([xtpu, "sweep", model, "--chip", "v4", "--set", "mxu.cols=0,64,128", "--set", "hbm.bandwidth_gbps=600,1200",
         "-o", sdir, "-q"])
    with open(os.path.join(sdir, "sweep.csv")) as f:
        points = list(csv.DictReader(f))
    good = [p for p in points if p["status"] == "ok"]
    check(len(points) == 6 and len(good) == 4, f"sweep.csv: {len(points)} points, {len(good)} ok")
    browser.open(os.path.join(sdir, "sweep.html"))
    rows = browser.evaluate("document.querySelectorAll('#points tbody tr').length")
    check(rows == len(points), f"sweep table has {rows} rows for {len(points)} points")
    n = browser.evaluate("window.xtpu.charts.roofline.getDatasetMeta(0).data.length")
    check(n == len(good), f"sweep roofline shows {n} points for {len(good)} good points")
    drawn = browser.evaluate("""(() => { let n = 0; for (const [k, c] of Object.entries(window.xtpu.charts))
        if (k !== 'roofline') c.data.datasets.forEach(d => n += d.data.filter(v => v !== null).length); return n; })()""")
    check(drawn == 2 * 3 * len(good), f"parameter charts show {drawn} values (2 axes x 3 metrics x {len(good)})")
    errors = browser.evaluate("document.querySelectorAll('#points td .error').length")
    check(errors == len(points) - len(good), f"{errors} failed points shown with their error")
    problems = browser.problems()
    check(not problems, "no console errors, exceptions or network requests: " + "; ".join(problems))
    browser.screenshot(os.path.join(out, "sweep.png"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--xtpu", required=True)
    ap.add_argument("--out", help="where the screenshots go (default: a temp dir)")
    ap.add_argument("--model", help="model to profile (default: a small MLP made here)")
    args = ap.parse_args()
    binary = find_chromium()
    if not binary:
        sys.exit("chromium not found: apt-get install chromium (scripts/setup.sh)")
    with tempfile.TemporaryDirectory(prefix="xtpu_report_") as work:
        out = args.out or work
        os.makedirs(out, exist_ok=True)
        model = args.model
        if not model:
            model = os.path.join(work, "mlp.tir")
            with open(model, "w") as f:
                f.write(TIR_MLP)
        browser = Browser(binary, os.path.join(work, "chromium-profile"))
        try:
            test_profile(browser, args.xtpu, model, work, out)
            test_sweep(browser, args.xtpu, model, work, out)
        finally:
            browser.close()
        for png in ("profile.png", "sweep.png"):
            p = os.path.join(out, png)
            check(os.path.exists(p) and os.path.getsize(p) > 10000, f"screenshot {p}")
    print(f"{0 if FAILURES else 1} passed, {1 if FAILURES else 0} failed")
    if FAILURES:
        sys.exit(1)


if __name__ == "__main__":
    main()
