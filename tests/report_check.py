"""The council report as its readers meet it, in Debian's Chromium driven by
Selenium: axe-core finds no serious or critical accessibility violation,
the page fits a 360 px phone, it prints (to PDF, through Chromium's own
print path), it is Dutch, and no wire name or withheld figure leaks into a
sentence. Usage: report_check.py <report.html> <axe.min.js> <out-dir>."""

from __future__ import annotations

import base64
import re
import sys
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def main(report: Path, axe: Path, out: Path) -> int:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    problems: list[str] = []
    try:
        driver.get(report.resolve().as_uri())
        if driver.execute_script("return document.documentElement.lang") != "nl":
            problems.append("the page is not marked Dutch (lang=nl)")
        text = driver.execute_script("return document.body.innerText")
        wire = sorted(set(re.findall(r"\b[a-z]+_[a-z_]+\b", text)))
        if wire:
            problems.append(f"wire names in the text: {wire[:5]}")
        if re.search(r"\s–\s*(h|uur)\b", text):
            problems.append("a withheld figure reads as a dash in a sentence")
        english = [w for w in ("regional figures", "places at the end", "place type", "refusals") if w in text]
        if english:
            problems.append(f"English left in the report: {english}")

        driver.execute_script(axe.read_text())
        found = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document).then(r => done(r.violations.map(v => [v.id, v.impact, v.nodes.length])));"
        )
        serious = [f"{rule} ({impact}, {n} nodes)" for rule, impact, n in found if impact in ("serious", "critical")]
        if serious:
            problems.append(f"axe-core: {serious}")

        driver.set_window_size(360, 900)
        width = driver.execute_script("return document.documentElement.scrollWidth")
        if width > 360:
            problems.append(f"the page is {width} px wide at a 360 px viewport")
        driver.save_screenshot(str(out / "report-360.png"))

        pdf = base64.b64decode(driver.execute_cdp_cmd("Page.printToPDF", {"printBackground": True})["data"])
        (out / "report.pdf").write_bytes(pdf)
        pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
        if not pdf.startswith(b"%PDF") or pages < 2:
            problems.append(f"printing gave {pages} page(s)")
    finally:
        driver.quit()
    for problem in problems:
        print(f"report check: {problem}", file=sys.stderr)
    if not problems:
        print("report check: Dutch, no serious or critical axe finding, fits 360 px, prints")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])))
