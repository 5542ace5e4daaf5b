"""Screenshots of every dashboard page in a real browser (Debian's chromium, headless, driven by
Playwright), for the README and the browser test:

    python -m dashboards.screenshots --principal elena --out docs/screenshots

starts `sei dashboards` on a free port for that principal (or `--demo`), loads each page,
waits until the app has finished running, saves `<page>.png` and stops the server. Playwright
never downloads a browser here: it drives the system's chromium (CHROMIUM, else `chromium`
on PATH)."""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from dashboards import process
from dashboards.process import free_port

PAGES = ["dora", "sprints", "productivity", "alignment", "goals", "health"]   # url paths (dashboards/app.py)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def chromium() -> str:
    exe = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        raise SystemExit("no chromium found. Fix: install Debian's `chromium` package (apt-get install chromium) "
                         "or set CHROMIUM to the browser's path")
    return exe


@contextmanager
def running(args: list[str], env: dict | None = None, cwd: Path | None = None, log: Path | None = None,
            timeout: float = 120):
    """`sei dashboards ARGS` on a free port until the block ends; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with process.running([str(Path(sys.executable).parent / "sei"), "dashboards", "--port", str(port), *args],
                         ready=lambda: process.answers(f"{url}/_stcore/health"), env={**os.environ, **(env or {})},
                         cwd=cwd, log=log, timeout=timeout):
        yield url


@dataclass
class Shot:
    page: str
    png: Path
    text: str                                   # the page's visible text
    exceptions: list[str] = field(default_factory=list)
    downloads: dict[str, str] = field(default_factory=dict)   # CSV file name -> its content
    seconds: float = 0.0                        # navigation until the script finished and the page settled


def capture(url: str, out: Path, pages=PAGES, downloads: bool = False, timeout_ms: int = 120_000) -> list[Shot]:
    """Load each page in headless chromium, wait for the run to finish, screenshot it; with
    `downloads`, also click every visible "Download CSV" and keep what the browser receives."""
    from playwright.sync_api import sync_playwright
    out.mkdir(parents=True, exist_ok=True)
    shots = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        try:
            ctx = browser.new_context(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
            page = ctx.new_page()
            for name in pages:
                t0 = time.monotonic()
                # the default page is served at the root: its own path answers "Page not found"
                page.goto(f"{url}/" if name == PAGES[0] else f"{url}/{name}", wait_until="networkidle",
                          timeout=timeout_ms)
                page.wait_for_selector("text=Data as of", timeout=timeout_ms)
                page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]',
                                       timeout=timeout_ms)
                page.wait_for_timeout(800)   # charts draw after the script has finished
                shot = Shot(name, out / f"{name}.png", page.inner_text("body"), seconds=time.monotonic() - t0)
                shot.exceptions = [e.inner_text() for e in page.query_selector_all('[data-testid="stException"]')]
                page.screenshot(path=str(shot.png), full_page=True)
                if downloads:
                    _download_all(page, shot, timeout_ms)
                shots.append(shot)
        finally:
            browser.close()
    return shots


def _download_all(page, shot: Shot, timeout_ms: int) -> None:
    """Click every "Download CSV", tab by tab (a closed tab's buttons are not clickable)."""
    tabs = page.get_by_role("tab").all()
    for tab in [None, *tabs]:
        if tab is not None:
            tab.click()
            page.wait_for_timeout(300)
        page.keyboard.press("Escape")   # a popover left open (the date picker) makes the rest of the page inert
        for button in page.query_selector_all('[data-testid="stDownloadButton"] button'):
            if not button.is_visible():
                continue
            with page.expect_download(timeout=timeout_ms) as dl:
                button.click()
            d = dl.value
            if d.suggested_filename not in shot.downloads:
                shot.downloads[d.suggested_filename] = Path(d.path()).read_text()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    who = ap.add_mutually_exclusive_group(required=True)
    who.add_argument("--principal", help="Whose published scope to show")
    who.add_argument("--demo", action="store_true", help="Demo mode (after `make run`)")
    ap.add_argument("--out", type=Path, default=Path("docs/screenshots"), help="Folder for <page>.png")
    a = ap.parse_args(argv)
    with running(["--principal", a.principal] if a.principal else ["--demo"]) as url:
        for s in capture(url, a.out):
            print(f"{s.png}  ({s.seconds:.1f}s){'  EXCEPTION' if s.exceptions else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
