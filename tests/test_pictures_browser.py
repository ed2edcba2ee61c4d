"""The pictures in real renderers: the HTML report in headless Chromium (Debian's ``chromium``), the Markdown
summary's gantt charts with Mermaid itself (``mmdc`` from npm's ``@mermaid-js/mermaid-cli``, which renders in the
same Chromium). ``.ci/install-integration-deps.sh`` installs both; when one is missing these tests fail, saying what
to install (a CI that skipped them would hide that the pictures were never seen drawn).

Each test leaves its files (the HTML, a screenshot, the rendered SVGs) in its own temporary directory, named in
the test's output, or in $BUILDLOG_ARTEFACTS when that is set.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fixturelib import SHARED, shared_logs

pytestmark = pytest.mark.integration

INSTALL = "run .ci/install-integration-deps.sh (as root): it installs Debian's chromium and @mermaid-js/mermaid-cli"
MMDC_DEFAULT = "/opt/buildlog-mmdc/node_modules/.bin/mmdc"  # where .ci/install-integration-deps.sh puts it

# Put before the page's own scripts: records what the page writes to the console as errors, then, once the page
# has loaded and drawn, writes that and what each chart drew into a <pre> that --dump-dom shows.
PROBE = """<script>
window.__errors = [];
const __error = console.error;
console.error = function (...args) { window.__errors.push(args.map(String).join(" ")); __error.apply(console, args); };
window.addEventListener("error", (e) => window.__errors.push("uncaught: " + e.message));
window.addEventListener("unhandledrejection", (e) => window.__errors.push("unhandled: " + e.reason));
window.addEventListener("load", () => setTimeout(() => {
  const charts = [...document.querySelectorAll(".plotly-graph-div")].map((d) => ({
    id: d.id, svg: d.querySelectorAll("svg.main-svg").length,
    traces: d.querySelectorAll("g.trace, g.point, path.point, g.box").length,
    width: d.getBoundingClientRect().width, height: d.getBoundingClientRect().height}));
  const pre = document.createElement("pre");
  pre.id = "buildlog-probe";
  pre.textContent = JSON.stringify({errors: window.__errors, charts: charts});
  document.body.appendChild(pre);
}, 1000));
</script>"""


def artefacts(tmp_path: Path, name: str) -> Path:
    root = os.environ.get("BUILDLOG_ARTEFACTS")
    out = Path(root) / name if root else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    return out


def chromium() -> str:
    path = os.environ.get("BUILDLOG_CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.fail(f"headless Chromium (Debian's chromium) is not installed: {INSTALL}", pytrace=False)
    return path


def mmdc() -> str:
    path = os.environ.get("BUILDLOG_MMDC") or (MMDC_DEFAULT if os.path.exists(MMDC_DEFAULT) else shutil.which("mmdc"))
    if not path:
        pytest.fail(f"mmdc (@mermaid-js/mermaid-cli) is not installed: {INSTALL}", pytrace=False)
    return path


def headless(*args: str) -> list[str]:
    # No network: every host name resolves to nothing, so a page that needed one would fail to draw.
    return [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--mute-audio",
            "--no-first-run", "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=10000", *args]


def open_in_chromium(page: Path, out: Path, height: int) -> dict[str, object]:
    """Load the page (with the probe) in headless Chromium: what the probe saw; and a screenshot beside it."""
    probed = out / (page.stem + ".probed.html")
    text = page.read_text(encoding="utf-8")
    probed.write_text(text.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    dom = subprocess.run(headless("--window-size=1300,1000", "--dump-dom", probed.as_uri()), capture_output=True,
                         timeout=180)
    assert dom.returncode == 0, dom.stderr.decode(errors="replace")[-2000:]
    m = re.search(rb'<pre id="buildlog-probe">(.*?)</pre>', dom.stdout, re.DOTALL)
    assert m is not None, f"the page never finished loading ({probed})"
    import html

    probe: dict[str, object] = json.loads(html.unescape(m.group(1).decode()))
    shot = out / (page.stem + ".png")
    run = subprocess.run(headless(f"--window-size=1300,{height}", f"--screenshot={shot}", page.as_uri()),
                         capture_output=True, timeout=180)
    assert run.returncode == 0 and shot.stat().st_size > 10_000, run.stderr.decode(errors="replace")[-2000:]
    print(f"report: {page}\nscreenshot: {shot}")
    return probe


def report(paths: list[Path], out: Path, name: str, *options: str) -> Path:
    page = out / name
    p = subprocess.run([sys.executable, "-m", "buildlog", "report", *map(str, paths), "-o", str(page), *options],
                       capture_output=True, timeout=300)
    assert p.returncode == 0, p.stderr.decode()
    return page


def check_charts(probe: dict[str, object], expected: int) -> None:
    assert probe["errors"] == [], probe["errors"]
    charts = probe["charts"]
    assert isinstance(charts, list) and len(charts) == expected, charts
    for c in charts:
        assert c["svg"] >= 1 and c["traces"] >= 1, f"chart {c['id']} drew nothing: {c}"
        assert c["width"] > 300 and c["height"] > 150, c


def test_report_of_one_log_in_chromium(tmp_path: Path) -> None:
    out = artefacts(tmp_path, "report-one")
    page = report([SHARED / "s04-fail-exit1-rawjson.log"], out, "report-one.html")
    check_charts(open_in_chromium(page, out, 1500), 2)


def test_report_of_every_shared_log_in_chromium(tmp_path: Path) -> None:
    out = artefacts(tmp_path, "report-all")
    page = report(shared_logs(), out, "report-all.html", "--by", "prefix")
    check_charts(open_in_chromium(page, out, 3600), 5)


def test_gantt_charts_render_with_mermaid(tmp_path: Path) -> None:
    """Every real log's Markdown summary, and a build whose step names are hostile, through Mermaid itself."""
    out = artefacts(tmp_path, "gantt")
    config = out / "puppeteer.json"
    config.write_text(json.dumps({"executablePath": chromium(), "args": ["--no-sandbox"]}))
    sys.path.insert(0, str(Path(__file__).parent))
    from test_pictures import HOSTILE, hostile_events

    import buildlog
    from buildlog.mermaid import gantt_markdown
    from buildlog.render import render_markdown
    from buildlog.timeline import summarize_with_timeline

    _summary, timeline = summarize_with_timeline(hostile_events())
    assert timeline.last is not None
    # every chart in one Markdown file: mmdc renders them all in one browser (a browser per chart takes minutes)
    sources = {"hostile": gantt_markdown(timeline.last)}
    for log in shared_logs():  # the unit tests lex the charts of every fixture; these are drawn too
        summary, timed = summarize_with_timeline(buildlog.parse_path(log))
        md_text = render_markdown(summary, timeline=timed)
        blocks = re.findall(r"^```mermaid\n.*?^```$", md_text, re.MULTILINE | re.DOTALL)
        if blocks:
            sources[log.stem] = blocks[0]
    assert len(sources) == len(shared_logs()) + 1
    md = out / "charts.md"
    md.write_text("\n\n".join(f"## {name}\n\n{text.strip()}" for name, text in sources.items()) + "\n")
    r = subprocess.run([mmdc(), "-q", "-p", str(config), "-i", str(md), "-o", str(out / "charts.out.md"),
                        "-e", "svg"], capture_output=True, timeout=600)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-1500:]
    for n, (name, text) in enumerate(sources.items(), start=1):
        svg_path = out / f"charts.out-{n}.svg"
        assert svg_path.exists(), f"{name}: no chart drawn"
        svg = svg_path.read_text()
        assert 'aria-roledescription="gantt"' in svg, name
        tasks = re.findall(r"^    (\d+ · .*?) :", text, re.MULTILINE)
        assert tasks, name
        import html

        drawn = {html.unescape(t).strip() for t in re.findall(r">([^<>]+)<", svg)}
        for task in tasks:
            # every task drawn with its whole name (Mermaid strips what it reads as a directive or an entity)
            assert task.strip() in drawn, f"{name}: task {task!r} not drawn as it is named ({svg_path})"
    assert len(re.findall(r"^    \d+ · ", sources["hostile"], re.MULTILINE)) == len(HOSTILE)
