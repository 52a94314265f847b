"""Screenshot of an xtpu HTML report in headless Chromium (for docs/images/).

  /usr/bin/python3 tests/report/screenshot.py REPORT.html OUT.png [--height 1480] [--click-row N]

--click-row N clicks the N-th row (from 0) of the per-op table first, which
marks that op on the charts. Fails if the page logs an error.
"""
import argparse
import base64
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_report_browser as t  # noqa: E402  (the DevTools client)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("report")
    ap.add_argument("out")
    ap.add_argument("--width", type=int, default=1300)
    ap.add_argument("--height", type=int, default=1480)
    ap.add_argument("--click-row", type=int)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        b = t.Browser(t.find_chromium(), d)
        try:
            b.call("Emulation.setDeviceMetricsOverride", width=args.width, height=args.height, deviceScaleFactor=1,
                   mobile=False)
            b.open(args.report)
            if args.click_row is not None:
                b.evaluate(f"document.querySelectorAll('#ops tbody tr')[{args.click_row}].click(); window.scrollTo(0, 0)")
                time.sleep(0.3)
            problems = b.problems()
            if problems:
                sys.exit("the page reported: " + "; ".join(problems))
            with open(args.out, "wb") as f:
                f.write(base64.b64decode(b.call("Page.captureScreenshot", format="png")["data"]))
        finally:
            b.close()


if __name__ == "__main__":
    main()
