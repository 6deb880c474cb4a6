"""The explorer page end to end: Debian's Chromium, driven by Playwright, against a real server.

Every check compares what the page drew with what the API answers for the same request. The
richest state is saved to ``artifacts/explorer.png`` (git-ignored) for a person to look at.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Dialog,
    Page,
    Playwright,
    Request,
    Response,
    sync_playwright,
)

from api.routes.explorer import EXPLORER_DIR
from tests.server import ROOT, Server, running_server

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
# As root, in a sandbox with no network: see the machine notes. Never `playwright install`.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = ROOT / "artifacts" / "explorer.png"
GRID = 120  # the page's landscape resolution for two variables
ROSENBROCK_BOX = [[-2.0, 2.0], [-1.0, 3.0]]  # the catalogue's plot domain, the page's first box


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db = tmp_path_factory.mktemp("explorer") / "descent.db"
    with running_server({"DESCENT_STORE_URL": f"sqlite:///{db}"}) as running:
        yield running


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the explorer's end-to-end tests need Debian's chromium "
            "(`bash scripts/system-packages` installs it; never `playwright install`)."
        )
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield launched
    launched.close()


class Watch:
    """A page with everything that went wrong on it: console errors, page errors, failed
    requests, HTTP errors and dialogs (the page must never use alert())."""

    def __init__(self, browser: Browser, server: Server, width: int = 1440, height: int = 900):
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.page.set_default_timeout(20_000)
        self.server = server
        self.console_errors: list[str] = []
        self.failures: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.console_errors.append(f"page error: {error}"))
        self.page.on("requestfailed", self._request_failed)
        self.page.on("response", self._response)
        self.page.on("dialog", self._dialog)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _request_failed(self, request: Request) -> None:
        self.failures.append(f"{request.method} {request.url}: {request.failure}")

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self.failures.append(f"{response.request.method} {response.url}: {response.status}")

    def open(self) -> Page:
        self.page.goto(f"{self.server.url}/")
        self.page.wait_for_function("window.explorer && window.explorer.state.ready")
        return self.page

    def assert_clean(self) -> None:
        assert self.failures == [], "failed network requests"
        assert self.console_errors == [], "console errors"
        assert self.dialogs == [], "dialogs"

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def watch(browser: Browser, server: Server) -> Iterator[Watch]:
    watched = Watch(browser, server)
    yield watched
    watched.close()


def api(server: Server, method: str, path: str, body: Any = None) -> Any:
    response = httpx.request(method, f"{server.url}{path}", json=body, timeout=30)
    return response.json()


def traces(page: Page, selector: str, role: str) -> list[dict[str, Any]]:
    """The Plotly traces of one role (landscape, start, path, loss, ...) as the page drew them."""
    result: list[dict[str, Any]] = page.evaluate(
        """([selector, role]) => (document.querySelector(selector).data || [])
            .filter((t) => t.meta && t.meta.role === role)
            .map((t) => ({type: t.type, x: t.x, y: t.y, z: t.z, label: t.name}))""",
        [selector, role],
    )
    return result


def plot_area(page: Page) -> dict[str, float]:
    """The landscape's plot area in page pixels, and its axis ranges."""
    area: dict[str, float] = page.evaluate(
        """() => {
            const gd = document.querySelector('#contour');
            const box = gd.querySelector('.nsewdrag').getBoundingClientRect();
            const [x0, x1] = gd._fullLayout.xaxis.range;
            const [y0, y1] = gd._fullLayout.yaxis.range;
            const {left, top, width, height} = box;
            return {left, top, width, height, x0, x1, y0, y1};
        }"""
    )
    return area


def pixel_of(page: Page, point: list[float]) -> tuple[float, float]:
    """Where a data point of the landscape is on the page."""
    where: list[float] = page.evaluate(
        """([x, y]) => {
            const gd = document.querySelector('#contour');
            const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
            const r = gd.getBoundingClientRect();
            return [r.left + xa._offset + xa.c2p(x), r.top + ya._offset + ya.c2p(y)];
        }""",
        point,
    )
    return where[0], where[1]


def request_json(response: Response) -> Any:
    """The JSON body the page sent."""
    body = response.request.post_data_json
    assert body is not None
    return body


def start_inputs(page: Page) -> list[float]:
    values: list[str] = page.eval_on_selector_all("#starts input", "els => els.map(e => e.value)")
    return [float(v) for v in values]


def test_page_loads_and_draws_the_catalogues_landscape(browser: Browser, server: Server) -> None:
    watch = Watch(browser, server, width=1280, height=720)  # a laptop screen
    try:
        page = watch.open()
        page.wait_for_function(
            "(document.querySelector('#contour').data || []).some(t => t.type === 'contour')"
        )
        expected = api(
            server,
            "POST",
            "/v1/landscape",
            {
                "loss": {"type": "builtin", "name": "rosenbrock"},
                "bounds": ROSENBROCK_BOX,
                "resolution": [GRID, GRID],
            },
        )
        [contour] = traces(page, "#contour", "landscape")
        assert contour["type"] == "contour"
        assert len(contour["z"]) == GRID
        assert all(len(row) == GRID for row in contour["z"])
        assert contour["x"] == pytest.approx(expected["x"])
        assert contour["y"] == pytest.approx(expected["y"])
        # Rosenbrock spans five decades: the colours are log-scaled, the colour bar says so
        colour_bar = "document.querySelector('#contour')._fullData[0].colorbar.title.text"
        assert "log" in page.evaluate(colour_bar)
        # the builtin's editable expression is prefilled
        losses = {loss["name"]: loss for loss in api(server, "GET", "/v1/losses")["losses"]}
        assert page.input_value("#formula") == losses["rosenbrock"]["expression"]
        # the optimizer rows are generated from the catalogue, with its defaults and ranges
        catalogue = {o["name"]: o for o in api(server, "GET", "/v1/optimizers")["optimizers"]}
        assert page.eval_on_selector_all(
            ".opt-row .opt-head select", "els => els.map(e => e.value)"
        ) == ["sgd", "adam"]
        adam_fields = page.eval_on_selector_all(
            '.opt-row[data-index="1"] [data-field^="optimizers.1."]',
            "els => els.map(e => e.dataset.field.split('.')[2])",
        )
        hyperparameters = {hp["name"] for hp in catalogue["adam"]["hyperparameters"]}
        assert set(adam_fields) == {"name", *hyperparameters}
        assert page.get_attribute('[data-field="optimizers.1.beta2"]', "max") == "1"
        # laptop width: both charts side by side, nothing scrolls sideways
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        contour_box = page.locator("#contour").bounding_box()
        loss_box = page.locator("#loss-chart").bounding_box()
        assert contour_box is not None
        assert loss_box is not None
        assert loss_box["x"] > contour_box["x"] + contour_box["width"] - 1
        watch.assert_clean()
    finally:
        watch.close()


def test_click_run_two_optimizers_and_classify_a_point(watch: Watch, server: Server) -> None:
    page = watch.open()
    page.wait_for_function("(document.querySelector('#contour').data || []).length > 0")

    # a click on the landscape moves the start there
    area = plot_area(page)
    fx, fy = 0.22, 0.35
    page.mouse.click(area["left"] + fx * area["width"], area["top"] + fy * area["height"])
    expected_start = [
        area["x0"] + fx * (area["x1"] - area["x0"]),
        area["y1"] - fy * (area["y1"] - area["y0"]),
    ]
    page.wait_for_function("document.querySelector('#starts input').value !== '-1.2'")
    assert start_inputs(page) == pytest.approx(expected_start, abs=0.02)
    [start_marker] = traces(page, "#contour", "start")
    assert [start_marker["x"][0], start_marker["y"][0]] == start_inputs(page)
    page.wait_for_selector("#analysis [data-classification]")  # the click also analyses

    # two optimizers, one batch request; the page draws what the API answers
    with page.expect_response(lambda r: r.url.endswith("/v1/runs/batch")) as answered:
        page.click("#run")
    body = request_json(answered.value)
    assert [o["name"] for o in body["optimizers"]] == ["sgd", "adam"]
    assert body["starts"] == [start_inputs(page)]
    answer = api(server, "POST", "/v1/runs/batch", body)
    expected_counts = [len(run["trajectory"]["step"]) for run in answer["runs"]]
    assert (
        answered.value.json()["runs"][0]["trajectory"]["step"]
        == answer["runs"][0]["trajectory"]["step"]
    )
    page.wait_for_function("window.explorer.state.runs.length === 2")
    paths = traces(page, "#contour", "path")
    assert [len(p["x"]) for p in paths] == expected_counts
    assert [len(p["y"]) for p in paths] == expected_counts
    assert paths[1]["x"][-1] == pytest.approx(answer["runs"][1]["final"]["params"][0])

    # the animation: play/pause, the step slider, and the drawn path reaches the last point
    assert page.get_attribute("#step-slider", "max") == str(max(expected_counts) - 1)
    page.click("#to-end")
    drawn = "[...document.querySelectorAll('#contour ~ .overlay polyline')]"
    counts = ",".join(map(str, expected_counts))
    page.wait_for_function(f"{drawn}.map(p => Number(p.dataset.points)).join() === '{counts}'")
    assert page.input_value("#step-slider") == str(max(expected_counts) - 1)
    page.fill("#step-slider", "5")
    page.wait_for_function(f"{drawn}.every(p => Number(p.dataset.points) === 6)")
    assert "step 5 /" in page.inner_text("#step-label")

    # the loss chart: one line per run, log y for a positive loss
    losses = traces(page, "#loss-chart", "loss")
    assert [len(line["y"]) for line in losses] == expected_counts
    assert losses[0]["y"] == pytest.approx(answer["runs"][0]["trajectory"]["loss"])
    assert page.evaluate("document.querySelector('#loss-chart')._fullLayout.yaxis.type") == "log"

    # the legend: each run's status and message
    items = page.locator("#legend .run-item")
    assert items.count() == 2
    for i, run in enumerate(answer["runs"]):
        assert items.nth(i).get_attribute("data-status") == run["status"]
        assert run["message"] in items.nth(i).inner_text()

    # a click on the landscape away from the paths moves the start and classifies the point
    with page.expect_response(lambda r: r.url.endswith("/v1/analyze")) as analysed:
        page.mouse.click(*pixel_of(page, [1.7, -0.6]))
    point = request_json(analysed.value)["point"]
    assert point == pytest.approx([1.7, -0.6], abs=0.02)
    assert start_inputs(page) == point
    check = api(server, "POST", "/v1/analyze", {"loss": body["loss"], "point": point})
    page.wait_for_selector(f'#analysis [data-classification="{check["classification"]}"]')
    for value in check["eigenvalues"]:
        if 1e-3 <= abs(value) < 1e5:
            assert f"{value:.4g}" in page.inner_text("#analysis")

    # a click on a trajectory point shows that point's classification, and keeps the start
    k = expected_counts[1] // 3
    point = answer["runs"][1]["trajectory"]["params"][k]
    with page.expect_response(lambda r: r.url.endswith("/v1/analyze")) as analysed:
        page.mouse.click(*pixel_of(page, point))
    clicked = request_json(analysed.value)["point"]  # the trajectory point nearest the pointer
    [(run, j)] = [
        (run, j)
        for run in answer["runs"]
        for j, params in enumerate(run["trajectory"]["params"])
        if params == clicked
    ][:1]
    assert clicked == pytest.approx(point, abs=0.03)
    expected = api(server, "POST", "/v1/analyze", {"loss": body["loss"], "point": clicked})
    page.wait_for_selector(f'#analysis [data-classification="{expected["classification"]}"]')
    assert f"step {run['trajectory']['step'][j]}" in page.inner_text("#analysis")
    assert start_inputs(page) == pytest.approx([1.7, -0.6], abs=0.02)

    # a legend entry shows the analysis of its run's last point, as the API sent it
    page.click("#legend .run-item >> nth=0")
    final = answer["runs"][0]["analysis"]["classification"]
    page.wait_for_selector(f'#analysis [data-classification="{final}"]')

    page.click("#to-end")
    page.evaluate("window.scrollTo(0, 0)")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    watch.assert_clean()


def test_lesson_gallery_loads_and_runs_lessons(watch: Watch, server: Server) -> None:
    page = watch.open()
    examples = api(server, "GET", "/v1/examples")["examples"]
    page.click("#lessons-toggle")
    cards = page.locator(".lesson-card")
    cards.first.wait_for()
    assert cards.count() == len(examples)
    assert cards.nth(0).inner_text().count(examples[0]["title"]) == 1

    batch = [e for e in examples if e["endpoint"] == "/v1/runs/batch"]
    lesson = next((e for e in batch if "learning-rate" in e["id"]), batch[0])
    with page.expect_response(lambda r: r.url.endswith("/v1/runs/batch")):
        page.click(f'.lesson-card[data-example="{lesson["id"]}"]')
    page.wait_for_function("window.explorer.state.runs.length > 0")
    assert page.inner_text("#lesson-title") == lesson["title"]
    answer = api(server, "POST", "/v1/runs/batch", lesson["request"])
    expected_counts = [len(run["trajectory"]["step"]) for run in answer["runs"]]
    page.wait_for_function(
        f"(document.querySelector('#contour').data || [])"
        f".filter(t => t.meta && t.meta.role === 'path').length === {len(expected_counts)}"
    )
    paths = traces(page, "#contour", "path")
    assert [len(p["x"]) for p in paths] == expected_counts
    labels = lesson.get("labels") or []
    legend = "#legend .run-item"
    if labels:
        shown = page.eval_on_selector_all(f"{legend} .title", "e => e.map(x => x.textContent)")
        assert shown == labels
    statuses = page.eval_on_selector_all(legend, "e => e.map(x => x.dataset.status)")
    assert statuses == [run["status"] for run in answer["runs"]]
    # the lesson's controls: its loss and its optimizers
    loss = lesson["request"]["loss"]
    if loss["type"] == "expression":
        assert page.input_value("#formula") == loss["expression"]
    assert page.locator(".opt-row").count() == len(lesson["request"]["optimizers"])
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SCREENSHOT.with_name("explorer-lesson.png")))

    # a Hessian lesson shows each point's classification, and the saddle's escape direction
    analyse = [e for e in examples if e["endpoint"] == "/v1/analyze"]
    if analyse:
        lesson = analyse[0]
        page.click("#lessons-toggle")
        page.click(f'.lesson-card[data-example="{lesson["id"]}"]')
        requests = lesson["request"] if isinstance(lesson["request"], list) else [lesson["request"]]
        expected = [api(server, "POST", "/v1/analyze", r)["classification"] for r in requests]
        page.wait_for_function(
            f"document.querySelectorAll('.lesson-analysis').length === {len(requests)}"
        )
        shown = page.eval_on_selector_all(
            ".lesson-analysis", "e => e.map(x => x.dataset.classification)"
        )
        assert shown == expected
        if "saddle_point" in expected:
            page.wait_for_selector('#analysis [data-classification="saddle_point"]')
            page.wait_for_function(
                "document.querySelector('#contour').layout.annotations.length === 2"
            )
    watch.assert_clean()


def test_a_bad_formula_shows_the_apis_message_next_to_the_field(
    watch: Watch, server: Server
) -> None:
    page = watch.open()
    watch.assert_clean()
    bad = "x^2 +* y"
    problem = api(
        server,
        "POST",
        "/v1/landscape",
        {
            "loss": {"type": "expression", "expression": bad},
            "bounds": ROSENBROCK_BOX,
            "resolution": [GRID, GRID],
        },
    )
    [message] = [e["msg"] for e in problem["errors"] if e["loc"][:2] == ["body", "loss"]]
    page.fill("#formula", bad)
    page.press("#formula", "Enter")
    slot = page.locator('.field-error[data-loc="loss"]')
    slot.wait_for(state="visible")
    assert message in slot.inner_text()
    assert "invalid" in (page.get_attribute("#formula", "class") or "")
    formula = page.locator("#formula").bounding_box()
    error = slot.bounding_box()
    assert formula is not None
    assert error is not None
    assert 0 <= error["y"] - (formula["y"] + formula["height"]) < 40  # right under the field
    # the same message when Run sends the formula
    page.click("#run")
    page.wait_for_function(
        "document.querySelector('.field-error[data-loc=\"loss\"]').textContent.length > 0"
    )
    assert message in slot.inner_text()
    # fixing the formula clears the error and draws it
    page.fill("#formula", "x^2 + 3*y^2")
    page.press("#formula", "Enter")
    slot.wait_for(state="hidden")
    assert watch.dialogs == []
    assert watch.failures  # the 422 answers
    assert all(": 422" in failure for failure in watch.failures)
    assert all("422" in error for error in watch.console_errors)


def test_a_dataset_lesson_plots_its_loss_per_epoch(watch: Watch, server: Server) -> None:
    page = watch.open()
    examples = api(server, "GET", "/v1/examples")["examples"]
    lesson = next(e for e in examples if e["id"] == "batch-size-noise-and-cost")
    page.click("#lessons-toggle")
    page.click(f'.lesson-card[data-example="{lesson["id"]}"]')
    page.wait_for_function(f"window.explorer.state.runs.length === {len(lesson['request'])}")
    page.wait_for_function("document.querySelector('#loss-title').textContent === 'Loss per epoch'")
    answers = [api(server, "POST", "/v1/runs", body) for body in lesson["request"]]
    drawn = traces(page, "#loss-chart", "loss")
    labels = page.evaluate(
        """() => document.querySelector('#loss-chart').data
            .filter((t) => t.meta && t.meta.role === 'loss').map((t) => t.meta.label)"""
    )
    assert labels == lesson["labels"]
    for trace, answer in zip(drawn, answers, strict=True):
        assert trace["x"] == answer["trajectory"]["epoch"]
        assert trace["y"] == answer["trajectory"]["loss"]
    assert traces(page, "#contour", "path") == []
    watch.assert_clean()


def test_plotly_goes_gzipped_to_clients_that_accept_it(server: Server) -> None:
    vendor = EXPLORER_DIR / "vendor"
    plotly = (vendor / "plotly.min.js").read_bytes()
    packed = (vendor / "plotly.min.js.gz").read_bytes()
    assert gzip.decompress(packed) == plotly  # the sibling is the file, compressed
    url = f"{server.url}/static/explorer/vendor/plotly.min.js"
    zipped = httpx.get(url, headers={"Accept-Encoding": "gzip, deflate"}, timeout=30)
    assert zipped.status_code == 200
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert zipped.headers["vary"] == "Accept-Encoding"
    assert int(zipped.headers["content-length"]) == len(packed)
    assert zipped.content == plotly
    plain = httpx.get(url, headers={"Accept-Encoding": "identity"}, timeout=30)
    assert plain.status_code == 200
    assert "content-encoding" not in plain.headers
    assert plain.headers["vary"] == "Accept-Encoding"
    assert plain.content == plotly
    assert plain.headers["etag"] != zipped.headers["etag"]
    cached = httpx.get(
        url, headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["etag"]}
    )
    assert (cached.status_code, cached.content) == (304, b"")
    refused = httpx.get(url, headers={"Accept-Encoding": "br, gzip;q=0"}, timeout=30)
    assert "content-encoding" not in refused.headers
    assert refused.content == plotly
    script = httpx.get(f"{server.url}/static/explorer/app.js", headers={"Accept-Encoding": "gzip"})
    assert script.status_code == 200
    assert "content-encoding" not in script.headers  # no sibling: served as it is
