"""The visual e-mail editor's page load in a real browser on the demo (issue 20: "the editor's page
loads in ≤ 1 s on the demo; its static files are served from the project").

    .venv/bin/python bench/editor_page_load.py [--repetitions 15] [--warmup 2] [--keep]

1. loads the demo (``manage.py demo_load``, seeded: the same network and templates every time) into
   a fresh SQLite file ``bench/out/editor-page-load.sqlite3`` (as bench/page_timing.py does), and
   makes one new draft of the demo's national newsletter ("Lettre nationale — Foire aux vins");
2. starts ``manage.py runserver`` on it (demo settings, DEBUG off, static files served from the
   project's and packages' static folders by ``--insecure``, as the demo's runserver does) and logs
   in as the demo's head-office marketer (marie.dupont) in Debian's chromium through Playwright;
3. opens the visual editor on that draft ``--repetitions`` times after the warm-ups, each a fresh
   navigation, and prints p50 / p95 of: navigation start → DOMContentLoaded, → load, and → the first
   live preview shown (the editor's preview frame replaced by one holding the server's rendering,
   and that frame loaded), target ≤ 1,000 ms; beside them the CPU time the server process and the
   browser's processes spent per load (``/proc``, utime + stime). The baseline of the same run is
   the template list page (``/templates/``), loaded the same way;
4. checks that every request the editor's page made (scripts, styles, fonts, images, fetches)
   went to the page's own origin — no CDN — and prints what was requested; the run fails if not.

The machine's load average is printed before and after; results go to
``bench/out/editor-page-load-<time>.json``. Never part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

OUT = PROJECT_ROOT / "bench" / "out"
SQLITE_FILE = OUT / "editor-page-load.sqlite3"
TARGET_MS = 1000.0
PASSWORD = "relais-demo"  # noqa: S105 - the demo accounts' (README)
MARKETER = "marie.dupont"
NEWSLETTER = "Lettre nationale — Foire aux vins"
CHROMIUM = "/usr/bin/chromium"
TICK_MS = 1000.0 / os.sysconf("SC_CLK_TCK")

# Set on the page before any of its scripts: when the editor puts a preview frame holding the
# server's rendering in the page (a new frame per preview), and when that frame has loaded.
PREVIEW_PROBE = """
(() => {
  window.__firstPreview = null;
  const seen = (frame) => {
    if (window.__firstPreview || frame.id !== "ve-preview-frame") return;
    const html = frame.getAttribute("srcdoc") || "";
    if (html.length < 200) return;  // the page's own placeholder, "<p>…</p>"
    window.__firstPreview = { inserted: performance.now(), loaded: null };
    frame.addEventListener("load", () => { window.__firstPreview.loaded = performance.now(); }, { once: true });
  };
  new MutationObserver((records) => records.forEach((record) => record.addedNodes.forEach((node) => {
    if (node.nodeType !== 1) return;
    if (node.tagName === "IFRAME") seen(node);
    node.querySelectorAll && node.querySelectorAll("iframe").forEach(seen);
  }))).observe(document, { childList: true, subtree: true });
})();
"""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def cpu_ms(pid: int) -> float:
    """utime + stime of one process, in ms (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) * TICK_MS


def descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def browser_cpu_ms() -> float:
    """CPU of this process's descendants that are chromium (the Playwright driver's children)."""
    total = 0.0
    for pid in descendants(os.getpid()):
        try:
            if "chrom" in Path(f"/proc/{pid}/comm").read_text():
                total += cpu_ms(pid)
        except FileNotFoundError:
            continue
    return total


def prepare(keep: bool) -> tuple[str, float | None]:
    """The demo in its own SQLite file and a new draft of the newsletter; returns the draft's id."""
    OUT.mkdir(parents=True, exist_ok=True)
    fresh = not (keep and SQLITE_FILE.exists())
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{SQLITE_FILE}{suffix}").unlink(missing_ok=True)
    from bench.page_timing import load_demo, setup_django

    setup_django(f"sqlite:///{SQLITE_FILE}")
    loaded = load_demo() if fresh else None
    from django.contrib.auth import get_user_model

    from templates_lib import services
    from templates_lib.models import Template

    marketer = get_user_model().objects.get(username=MARKETER)
    template = Template.objects.get(name=NEWSLETTER)
    draft = template.versions.filter(status="draft").first() or services.version_new_draft(
        template=template, created_by=marketer)
    from django.db import connections

    connections.close_all()
    return draft.public_id, loaded


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{SQLITE_FILE}", "DJANGO_SETTINGS_MODULE": "config.settings.base",
           "RELAIS_MODE": "demo", "DEBUG": "false", "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", "runserver", "--noreload", "--insecure", f"127.0.0.1:{port}"],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=2):
                return server
        except OSError:
            if server.poll() is not None:
                raise SystemExit(f"runserver stopped (exit {server.returncode})") from None
            time.sleep(0.3)
    server.terminate()
    raise SystemExit("runserver did not answer within 60 s")


def timings(page) -> dict[str, float]:
    return page.evaluate("""() => {
      const nav = performance.getEntriesByType("navigation")[0];
      return { dom: nav.domContentLoadedEventEnd - nav.startTime, load: nav.loadEventEnd - nav.startTime };
    }""")


def load_once(page, url: str, server_pid: int, *, preview: bool) -> dict[str, float]:
    server_before, browser_before = cpu_ms(server_pid), browser_cpu_ms()
    page.goto(url, wait_until="load")
    page.wait_for_function("performance.getEntriesByType('navigation')[0].loadEventEnd > 0")
    figures = timings(page)
    if preview:
        page.wait_for_function("window.__firstPreview && window.__firstPreview.loaded !== null", timeout=15_000)
        shown = page.evaluate("window.__firstPreview")
        figures["preview_inserted"] = shown["inserted"]
        figures["preview"] = shown["loaded"]
        if page.locator("#ve-preview-state").inner_text().strip() == "":
            raise SystemExit("the editor shows no preview state")
    figures["server_cpu"] = cpu_ms(server_pid) - server_before
    figures["browser_cpu"] = browser_cpu_ms() - browser_before
    return figures


def summary(name: str, runs: list[dict[str, float]]) -> dict[str, object]:
    out: dict[str, object] = {"name": name, "n": len(runs)}
    for key in ("dom", "load", "preview_inserted", "preview", "server_cpu", "browser_cpu"):
        values = [run[key] for run in runs if key in run]
        if values:
            out[key] = {"p50": round(statistics.median(values), 1), "p95": round(percentile(values, 0.95), 1)}
    return out


def show(figures: dict, baseline: dict | None) -> None:
    def cell(key: str) -> str:
        if key not in figures:
            return ""
        p50, p95 = figures[key]["p50"], figures[key]["p95"]
        ratio = f" ({p95 / baseline[key]['p95']:.1f}× baseline)" if baseline and key in baseline else ""
        return f"p50 {p50:7.1f}  p95 {p95:7.1f} ms{ratio}"

    print(f"{figures['name']}  (n={figures['n']})")
    print(f"  → DOMContentLoaded   {cell('dom')}")
    print(f"  → load               {cell('load')}")
    if "preview" in figures:
        print(f"  → preview in page    {cell('preview_inserted')}")
        print(f"  → preview shown      {cell('preview')}")
    print(f"  CPU per load: server {cell('server_cpu')};  browser {cell('browser_cpu')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repetitions", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="reuse the SQLite file as it is (no fresh demo)")
    args = parser.parse_args()
    if not shutil.which(CHROMIUM):
        raise SystemExit(f"{CHROMIUM} is missing (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    load_before = os.getloadavg()
    draft_id, loaded = prepare(args.keep)
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    print(f"database      sqlite ({SQLITE_FILE}); demo loaded in {'—' if loaded is None else f'{loaded:.1f} s'}; "
          f"runserver --insecure on {origin}, DEBUG=false")
    print(f"machine       {os.cpu_count()} CPUs, load average {', '.join(f'{x:.2f}' for x in load_before)} "
          f"(1, 5, 15 min) before")
    print(f"{args.repetitions} loads each after {args.warmup} warm-ups; target p95 ≤ {TARGET_MS:.0f} ms "
          f"(navigation → first preview shown)\n")
    server = start_server(port)
    editor_url, list_url = f"/templates/versions/{draft_id}/visual/", "/templates/"
    requested: list[tuple[str, str]] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
            context = browser.new_context(base_url=origin, locale="en-US")
            page = context.new_page()
            page.add_init_script(PREVIEW_PROBE)
            page.goto(f"/accounts/login/?next={editor_url}")
            page.get_by_label("Username").fill(MARKETER)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(f"**{editor_url}")
            started = time.perf_counter()
            runs: dict[str, list] = {"editor": [], "list": []}

            def record(request) -> None:
                requested.append((request.resource_type, request.url))

            for number in range(args.warmup + args.repetitions):
                # interleaved, so that the baseline sees the same moments of the machine
                listing = load_once(page, list_url, server.pid, preview=False)
                page.on("request", record)
                editor = load_once(page, editor_url, server.pid, preview=True)
                page.remove_listener("request", record)
                if number >= args.warmup:
                    runs["list"].append(listing)
                    runs["editor"].append(editor)
            context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    load_after = os.getloadavg()
    baseline = summary("baseline: template list page (/templates/)", runs["list"])
    editor = summary("visual e-mail editor (new draft of the demo newsletter)", runs["editor"])
    show(baseline, None)
    show(editor, baseline)

    foreign = sorted({url for _, url in requested if not url.startswith(("data:", "about:", "blob:"))
                      and f"{urlsplit(url).scheme}://{urlsplit(url).netloc}" != origin})
    kinds: dict[str, set[str]] = {}
    for kind, url in requested:
        if url.startswith(origin):
            kinds.setdefault(kind, set()).add(urlsplit(url).path)
    print(f"\nrequests      {len(requested)} by the editor's page over the run; same origin "
          f"({origin}): {len(requested) - sum(1 for _, u in requested if u in foreign)}; other origins: {len(foreign)}")
    for kind in sorted(kinds):
        paths = sorted(kinds[kind])
        print(f"              {kind:<11} {', '.join(paths)}")
    statics = [path for path in set().union(*kinds.values()) if path.startswith("/static/")]
    print(f"              {len(statics)} static files, all from /static/ on the page's origin: "
          f"{'yes' if not foreign else 'NO'}")
    verdict = editor["preview"]["p95"] <= TARGET_MS
    print(f"\nmachine       load average {', '.join(f'{x:.2f}' for x in load_after)} after "
          f"({time.perf_counter() - started:.0f} s of measures)")
    print(f"verdict       first preview shown at p95 {editor['preview']['p95']:.0f} ms, load at p95 "
          f"{editor['load']['p95']:.0f} ms; target {TARGET_MS:.0f} ms: {'PASS' if verdict else 'FAIL'}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = OUT / f"editor-page-load-{stamp}.json"
    path.write_text(json.dumps({"at": stamp, "repetitions": args.repetitions, "cpus": os.cpu_count(),
                                "load_before": load_before, "load_after": load_after, "baseline": baseline,
                                "editor": editor, "foreign_requests": foreign,
                                "requested": sorted({url for _, url in requested})}, indent=2), encoding="utf-8")
    print(f"results       {path}")
    if foreign:
        raise SystemExit(f"the editor's page fetched from other origins: {foreign}")


if __name__ == "__main__":
    main()
