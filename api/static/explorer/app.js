/* Descent explorer: draws a loss from /v1/landscape, runs optimizers with /v1/runs/batch,
 * animates their trajectories, classifies clicked points with /v1/analyze and replays the
 * lessons of /v1/examples. Plain JavaScript, no build step; Plotly is vendored beside it. */
(() => {
  "use strict";

  // ---------------------------------------------------------------- constants

  /** One colour per run, readable on the white loss chart and on the slate landscape. */
  const PALETTE = ["#f97316", "#ec4899", "#22c55e", "#06b6d4", "#8b5cf6", "#eab308"];
  const MAX_OPTIMIZERS = 6;
  const GRID = 120; // landscape resolution of a two-variable loss (GRID × GRID)
  const GRID_1D = 400; // points along x for a one-variable loss
  const MAX_POINTS_PER_RUN = 3000; // record.every thins longer runs to about this many points
  const DUMMY_VARIABLE = "explorer_y"; // second axis of a one-variable loss's landscape
  const RESERVED = new Set([
    "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "exp", "log",
    "log10", "log2", "sqrt", "abs", "pi", "e", "min", "max",
  ]);
  const COLOURSCALE = [
    [0, "#26324d"], [0.18, "#3b4c70"], [0.38, "#5f7397"], [0.6, "#93a4c0"],
    [0.8, "#c9d3e3"], [1, "#f4f6fa"],
  ];
  const FONT = '"Inter", system-ui, -apple-system, "Segoe UI", Roboto, Arial, "DejaVu Sans", sans-serif';
  const PLAY_ICON = '<svg viewBox="0 0 16 16" aria-hidden="true"><path d="M4.5 2.5v11l9-5.5z"/></svg>';
  const PAUSE_ICON = '<svg viewBox="0 0 16 16" aria-hidden="true"><path d="M4 3h3v10H4zM9 3h3v10H9z"/></svg>';
  const SCHEDULE_FIELDS = {
    constant: [],
    step: [
      { name: "step_size", label: "step size", integer: true, min: 1, value: 100, title: "Multiply the rate by gamma every step_size steps" },
      { name: "gamma", label: "gamma", min: 0, max: 1, value: 0.1, title: "Factor applied every step_size steps" },
    ],
    exponential: [{ name: "gamma", label: "gamma", min: 0, max: 1, value: 0.99, title: "γ_k = lr·gamma^k" }],
    inverse_sqrt: [],
    cosine: [
      { name: "t_max", label: "t_max", integer: true, min: 1, value: 1000, title: "Steps of the half cosine" },
      { name: "eta_min", label: "eta_min", min: 0, value: 0, title: "Lowest rate" },
    ],
  };
  const WARMUP_FIELDS = [
    { name: "warmup_steps", label: "warmup steps", integer: true, min: 0, value: 0, title: "Linear warmup over this many steps (0: none)" },
    { name: "warmup_start_factor", label: "warmup start factor", min: 0, max: 1, value: 0, title: "Rate at step 0 as a fraction of lr" },
  ];
  const CLASS_TEXT = {
    local_minimum: "local minimum",
    local_maximum: "local maximum",
    saddle_point: "saddle point",
    degenerate: "degenerate",
    not_critical: "not critical",
  };
  const CLASS_NOTE = {
    local_minimum: "The gradient vanishes and every eigenvalue of the Hessian is positive: the loss curves up in every direction.",
    local_maximum: "The gradient vanishes and every eigenvalue is negative: the loss curves down in every direction.",
    saddle_point: "The gradient vanishes but the eigenvalues have both signs: the loss still goes down along the escape direction (the arrows).",
    degenerate: "The gradient vanishes but an eigenvalue is zero: the second-order test cannot tell a minimum from a saddle here.",
    not_critical: "The gradient is not zero here, so this is no critical point: gradient descent would keep moving.",
  };

  // ---------------------------------------------------------------- state

  const state = {
    ready: false,
    losses: [],
    lossByName: {},
    optimizers: [],
    optimizerByName: {},
    examples: [],
    lossObject: null, // the loss sent while the formula still shows its prefilled text
    prefilled: "",
    starts: [[-1.2, 1]],
    optRows: [], // [{name, values: {hp: value}, extra: {}}]
    scheduleValues: {},
    landscape: null, // {key, data, dims, variables, box, colour}
    runs: [],
    runNote: "",
    frame: 0,
    maxFrame: 0,
    playing: false,
    analysis: null, // {point, body, label}
    lesson: null,
    lessonAnalyses: null,
    requests: { landscape: 0, analysis: 0, run: 0 },
  };

  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));
  const contourDiv = $("#contour");
  const lossDiv = $("#loss-chart");

  // ---------------------------------------------------------------- small helpers

  /** An element from a tag, attributes and children (strings become text, never HTML). */
  function h(tag, attrs = {}, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "style") el.setAttribute("style", value);
      else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(el.dataset, value);
      else if (value === true) el.setAttribute(key, "");
      else el.setAttribute(key, String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  /** Text with `code` spans, as the lessons write field names. */
  function richText(text) {
    const parts = String(text || "").split("`");
    return parts.map((part, i) => (i % 2 ? h("code", {}, part) : document.createTextNode(part)));
  }

  function fmt(value, digits = 4) {
    if (value === null || value === undefined) return "—";
    if (typeof value !== "number") return String(value);
    if (!Number.isFinite(value)) return String(value);
    if (value === 0) return "0";
    const a = Math.abs(value);
    if (a >= 1e5 || a < 1e-3) return value.toExponential(Math.max(digits - 2, 1)).replace("e+", "e");
    return String(Number(value.toPrecision(digits)));
  }
  const fmtVec = (v, digits) => (Array.isArray(v) ? `(${v.map((x) => fmt(x, digits)).join(", ")})` : fmt(v));
  const clone = (value) => JSON.parse(JSON.stringify(value));
  const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));
  const numberOrNull = (text) => {
    if (text === null || text === undefined || String(text).trim() === "") return null;
    const n = Number(text);
    return Number.isFinite(n) ? n : null;
  };
  /** Round a clicked coordinate to a precision that matches the box (no 17-digit noise). */
  function tidy(value, span) {
    const step = 10 ** (Math.floor(Math.log10(Math.max(span, 1e-12))) - 3);
    return Number((Math.round(value / step) * step).toPrecision(12));
  }

  // ---------------------------------------------------------------- HTTP

  class ApiError extends Error {
    constructor(status, problem) {
      super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
      this.status = status;
      this.problem = problem || {};
    }
  }

  async function api(method, path, body) {
    const headers = { accept: "application/json, application/problem+json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    const key = sessionStorage.getItem("descent-api-key");
    if (key) headers["x-api-key"] = key;
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new ApiError(0, { title: "The service did not answer", detail: String((err && err.message) || err) });
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      const problem = data && typeof data === "object" ? data : { title: response.statusText, detail: text.slice(0, 300) };
      if (response.status === 401) askForApiKey(problem);
      throw new ApiError(response.status, problem);
    }
    return data;
  }

  function askForApiKey(problem) {
    const form = $("#apikey-form");
    form.hidden = false;
    clearErrors(["auth"]);
    placeError("auth", problem.detail || "This server needs an API key.");
  }

  // ---------------------------------------------------------------- errors shown inline

  /** Hide the error slots whose loc starts with one of the prefixes (all when none given). */
  function clearErrors(prefixes) {
    const match = (loc) => !prefixes || prefixes.some((p) => loc === p || loc.startsWith(`${p}.`));
    for (const slot of $$(".field-error[data-loc]")) {
      if (!match(slot.dataset.loc)) continue;
      slot.replaceChildren();
      slot.hidden = true;
    }
    for (const field of $$("[data-field].invalid")) {
      if (match(field.dataset.field)) field.classList.remove("invalid");
    }
  }

  /** The error slot for a loc: the one named by its longest prefix, else the Run button's. */
  function slotFor(parts) {
    for (let depth = parts.length; depth > 0; depth--) {
      const slot = document.querySelector(`.field-error[data-loc="${CSS.escape(parts.slice(0, depth).join("."))}"]`);
      if (slot) return { slot, depth };
    }
    return { slot: document.querySelector('.field-error[data-loc="run"]'), depth: 0 };
  }

  /** Put a message in the error slot nearest to a loc such as "optimizers.1.lr". */
  function placeError(loc, message) {
    const parts = String(loc || "").split(".").filter((p) => p !== "");
    const { slot, depth } = slotFor(parts);
    let rest = parts.slice(depth).join(".");
    if (parts[0] === "loss" && rest === "expression") rest = "";
    if (parts[0] === "bounds" && (rest === "0" || rest === "1")) rest = `${$(rest === "0" ? "#box-x-name" : "#box-y-name").textContent} range`;
    const prefix = rest ? `${rest}: ` : "";
    slot.append(h("p", {}, prefix + message));
    slot.hidden = false;
    for (let n = parts.length; n > 0; n--) {
      const fields = $$(`[data-field="${CSS.escape(parts.slice(0, n).join("."))}"]`);
      if (!fields.length) continue;
      for (const field of fields) {
        field.classList.add("invalid");
        const details = field.closest("details");
        if (details) details.open = true;
      }
      break;
    }
    const panel = slot.closest(".controls");
    if (panel && !isVisible(slot, panel)) slot.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }

  function isVisible(el, container) {
    const a = el.getBoundingClientRect();
    const b = container.getBoundingClientRect();
    return a.top >= b.top && a.bottom <= b.bottom;
  }

  /** Show a problem+json answer: each errors[].loc next to its control, else the detail. */
  function showProblem(err, fallbackLoc, mapLoc = (loc) => loc) {
    const problem = (err && err.problem) || {};
    const errors = Array.isArray(problem.errors) ? problem.errors : [];
    if (!errors.length) {
      const title = problem.title || "Request failed";
      const detail = problem.detail || (err && err.message) || "";
      placeError(fallbackLoc, detail && detail !== title ? `${title}: ${detail}` : title);
      return;
    }
    for (const item of errors) {
      let loc = Array.isArray(item.loc) ? item.loc.map(String) : [];
      if (loc[0] === "body") loc = loc.slice(1);
      loc = mapLoc(loc);
      placeError(loc.length ? loc.join(".") : fallbackLoc, item.msg || problem.detail || "invalid");
    }
  }

  const landscapeLoc = (loc) => {
    if (["variables", "center", "directions"].includes(loc[0])) return ["loss", ...loc.slice(1)];
    if (loc[0] === "resolution") return ["bounds"];
    if (loc[0] === "bounds" && state.landscape && currentDims() === 1) return ["bounds", "0"];
    return loc;
  };

  // ---------------------------------------------------------------- the loss

  function formulaVariables(text) {
    const names = new Set();
    const pattern = /[A-Za-z][A-Za-z0-9_]*/g;
    let m;
    while ((m = pattern.exec(text))) {
      const before = text[m.index - 1];
      if (before && /[0-9.]/.test(before)) continue; // the e of 1e-3
      if (!RESERVED.has(m[0])) names.add(m[0]);
    }
    return [...names].sort();
  }

  /** The loss to send: the builtin (with its params) while its formula is untouched. */
  function lossSpec() {
    const text = $("#formula").value.trim();
    if (state.lossObject && text === state.prefilled.trim()) return clone(state.lossObject);
    return { type: "expression", expression: text };
  }

  function lossVariables() {
    const loss = lossSpec();
    if (loss.type === "builtin") {
      const entry = state.lossByName[loss.name];
      const dim = loss.dim || (entry && entry.dims && entry.dims.default) || 2;
      if (entry && dim === entry.variables.length) return entry.variables.slice();
      return Array.from({ length: dim }, (_, i) => `x${i}`);
    }
    if (Array.isArray(loss.variables)) return loss.variables.slice();
    return formulaVariables(loss.expression || "");
  }

  const currentDims = () => (lossVariables().length === 1 ? 1 : 2);

  function builtinEntry() {
    const loss = lossSpec();
    return loss.type === "builtin" ? state.lossByName[loss.name] || null : null;
  }

  /** Load a loss object (from the catalogue or a lesson) into the controls. */
  function setLoss(loss) {
    const formula = $("#formula");
    const select = $("#builtin");
    if (loss.type === "builtin") {
      const entry = state.lossByName[loss.name];
      select.value = entry ? loss.name : "";
      formula.value = entry ? entry.expression : "";
      state.lossObject = clone(loss);
      state.prefilled = formula.value;
    } else if (loss.type === "expression") {
      select.value = "";
      formula.value = loss.expression || "";
      state.lossObject = loss.variables ? clone(loss) : null;
      state.prefilled = loss.variables ? formula.value : "";
    } else {
      select.value = "";
      formula.value = "";
      state.lossObject = clone(loss);
      state.prefilled = "";
    }
    updateLossHint();
  }

  function updateLossHint() {
    const loss = lossSpec();
    const entry = builtinEntry();
    const hint = $("#loss-hint");
    const vars = lossVariables();
    $("#formula-vars").textContent = vars.length ? `f(${vars.join(", ")})` : "";
    const names = vars.length === 1 ? [vars[0], "f"] : [vars[0] || "x", vars[1] || "y"];
    $("#box-x-name").textContent = names[0];
    $("#box-y-name").textContent = names[1];
    const oneD = vars.length === 1;
    for (const el of $$(".box-y")) el.hidden = oneD;
    if (entry) {
      const params = loss.params && Object.keys(loss.params).length
        ? ` Parameters: ${Object.entries(loss.params).map(([k, v]) => `${k} = ${v}`).join(", ")}.`
        : "";
      hint.replaceChildren(
        h("b", {}, entry.title.split(":")[0]),
        `: ${entry.title.split(":").slice(1).join(":").trim()}.${params} Edit the formula to try a variant.`,
      );
    } else {
      hint.replaceChildren(
        "Operators ", h("code", {}, "+ - * / ^"), ", functions ", h("code", {}, "sin cos exp log sqrt abs …"),
        ", constants ", h("code", {}, "pi e"), ". One or two variables can be drawn.",
      );
    }
  }

  function readBox() {
    const v = ["#box-x0", "#box-x1", "#box-y0", "#box-y1"].map((id) => numberOrNull($(id).value));
    return [[v[0], v[1]], [v[2], v[3]]];
  }

  function writeBox(box) {
    const ids = [["#box-x0", "#box-x1"], ["#box-y0", "#box-y1"]];
    box.forEach((pair, axis) => pair.forEach((value, end) => {
      if (value !== null && value !== undefined) $(ids[axis][end]).value = String(Number(value.toPrecision(6)));
    }));
  }

  // ---------------------------------------------------------------- landscape

  function landscapeRequest() {
    const loss = lossSpec();
    const vars = lossVariables();
    if (loss.type === "expression" && !loss.expression) {
      return { error: ["loss", "Type a formula, or pick a builtin loss."] };
    }
    if (!["expression", "builtin"].includes(loss.type)) {
      return { error: ["loss", `A ${loss.type} loss cannot be drawn here; the lesson's runs are still listed.`], undrawable: true };
    }
    if (vars.length > 2) {
      return { error: ["loss", `The explorer draws losses of one or two variables; this one has ${vars.length} (${vars.join(", ")}).`] };
    }
    const box = readBox();
    const dims = vars.length === 1 ? 1 : 2;
    const missing = box.slice(0, dims).findIndex((pair) => pair.some((x) => x === null));
    if (missing >= 0) return { error: [`bounds.${missing}`, "Enter both ends of the range."] };
    if (dims === 1) {
      if (loss.type !== "expression") return { error: ["loss", "A one-variable builtin cannot be drawn; type its formula instead."] };
      return {
        dims,
        box,
        body: {
          loss: { ...loss, variables: [vars[0], DUMMY_VARIABLE] },
          bounds: [box[0], [0, 1]],
          resolution: [GRID_1D, 2],
        },
      };
    }
    return { dims, box, body: { loss, bounds: box, resolution: [GRID, GRID] } };
  }

  /** Fetch the landscape when the loss or the box changed; true once it is drawn. */
  async function refreshLandscape() {
    const request = landscapeRequest();
    clearErrors(["loss", "bounds"]);
    if (request.error) {
      placeError(...request.error);
      if (request.undrawable) await clearLandscape();
      return false;
    }
    const key = JSON.stringify(request.body);
    if (state.landscape && state.landscape.key === key) return true;
    const seq = ++state.requests.landscape;
    setContourNote("computing the landscape…");
    let data;
    try {
      data = await api("POST", "/v1/landscape", request.body);
    } catch (err) {
      if (seq !== state.requests.landscape) return false;
      setContourNote("");
      showProblem(err, "loss", landscapeLoc);
      return false;
    }
    if (seq !== state.requests.landscape) return false;
    const variables = request.dims === 1 ? [data.variables[0]] : data.variables;
    state.landscape = { key, data, dims: request.dims, variables, box: request.box, colour: null };
    state.landscape.colour = colourData(state.landscape);
    const gaps = data.z.some((row) => row.some((v) => v === null));
    setContourNote(gaps ? "blank where f is not finite" : "");
    drawContour();
    return true;
  }

  function setContourNote(text) {
    $("#contour-note").textContent = text;
  }

  /** No landscape for this loss (a model on data): an empty plot saying so, not the last one. */
  function clearLandscape() {
    state.landscape = null;
    setContourNote("");
    $("#contour-title").textContent = "Landscape";
    const layout = {
      margin: { l: 8, r: 8, t: 8, b: 8 },
      font: { family: FONT, size: 12, color: "#2b3042" },
      paper_bgcolor: "#ffffff",
      plot_bgcolor: "#ffffff",
      xaxis: { visible: false },
      yaxis: { visible: false },
      annotations: [{
        xref: "paper", yref: "paper", x: 0.5, y: 0.5, showarrow: false,
        text: "This loss has no landscape to draw: follow its loss on the right.",
        font: { size: 13, color: "#7b8299" },
      }],
    };
    return Plotly.react(contourDiv, [], layout, PLOT_CONFIG).then(() => contourOverlay.render());
  }

  /** Colours: log10(f − min + δ) when most of the box sits far below the largest values. */
  function colourData(landscape) {
    const { data } = landscape;
    if (landscape.dims === 1) return null;
    const zmin = data.z_min;
    const zmax = data.z_max;
    const finite = [];
    for (const row of data.z) for (const v of row) if (v !== null) finite.push(v);
    finite.sort((a, b) => a - b);
    const range = zmax - zmin;
    const median = finite.length ? finite[Math.floor(finite.length / 2)] : zmin;
    const mode = $("#colour-scale").value;
    const useLog = zmin !== null && range > 0 && (mode === "log" || (mode === "auto" && (median - zmin) / range < 0.12));
    const text = data.z.map((row) => row.map((v) => (v === null ? "not finite" : fmt(v, 5))));
    if (!useLog) return { log: false, z: data.z, text, title: "f" };
    const delta = Math.max(range * 1e-5, 1e-12);
    const z = data.z.map((row) => row.map((v) => (v === null ? null : Math.log10(v - zmin + delta))));
    const lo = Math.ceil(Math.log10(delta));
    const hi = Math.floor(Math.log10(range + delta));
    const every = Math.max(1, Math.ceil((hi - lo + 1) / 7));
    const tickvals = [];
    const ticktext = [];
    for (let k = hi; k >= lo; k -= every) {
      tickvals.unshift(Math.log10(10 ** k + delta));
      ticktext.unshift(fmt(zmin + 10 ** k, 2));
    }
    return { log: true, z, text, title: "f (log)", tickvals, ticktext };
  }

  // ---------------------------------------------------------------- drawing the landscape

  const PLOT_CONFIG = {
    displaylogo: false,
    responsive: true,
    modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d", "toImage"],
  };

  function pointOnCurve(x) {
    const { data } = state.landscape;
    const xs = data.x;
    const ys = data.z[0];
    if (x <= xs[0]) return ys[0];
    if (x >= xs[xs.length - 1]) return ys[ys.length - 1];
    const t = ((x - xs[0]) / (xs[xs.length - 1] - xs[0])) * (xs.length - 1);
    const i = Math.floor(t);
    const a = ys[i];
    const b = ys[Math.min(i + 1, ys.length - 1)];
    if (a === null || b === null) return a ?? b;
    return a + (b - a) * (t - i);
  }

  function contourFigure() {
    const L = state.landscape;
    const traces = [];
    const dims = L.dims;
    const [xname, yname] = dims === 1 ? [L.variables[0], "f"] : L.variables;
    if (dims === 2) {
      const c = L.colour;
      traces.push({
        type: "contour",
        x: L.data.x,
        y: L.data.y,
        z: c.z,
        text: c.text,
        meta: { role: "landscape" },
        colorscale: COLOURSCALE,
        ncontours: 26,
        contours: { coloring: "fill", showlines: true },
        line: { color: "rgba(255,255,255,0.28)", width: 0.6, smoothing: 0.85 },
        connectgaps: false,
        hovertemplate: `${xname} = %{x:.4g}<br>${yname} = %{y:.4g}<br>f = %{text}<extra></extra>`,
        colorbar: {
          title: { text: c.title, side: "top", font: { size: 12 } },
          thickness: 12,
          len: 0.92,
          outlinewidth: 0,
          tickfont: { size: 11 },
          ...(c.log ? { tickmode: "array", tickvals: c.tickvals, ticktext: c.ticktext } : {}),
        },
      });
    } else {
      traces.push({
        type: "scatter",
        mode: "lines",
        x: L.data.x,
        y: L.data.z[0],
        meta: { role: "landscape" },
        line: { color: "#3b4c70", width: 2.5 },
        connectgaps: false,
        hovertemplate: `${xname} = %{x:.4g}<br>f = %{y:.5g}<extra></extra>`,
      });
    }
    // known minima of an untouched builtin
    const entry = builtinEntry();
    const loss = lossSpec();
    const minima = entry && !(loss.params && Object.keys(loss.params).length) && dims === 2 ? entry.minima || [] : [];
    traces.push({
      type: "scatter",
      mode: "markers",
      x: minima.map((m) => m.point[0]),
      y: minima.map((m) => m.point[1]),
      meta: { role: "minimum" },
      marker: { symbol: "star", size: 14, color: "#ffd54a", line: { color: "#4a3b00", width: 1 } },
      hovertemplate: "known minimum<br>(%{x:.4g}, %{y:.4g})<extra></extra>",
    });
    // starts
    const starts = state.starts.filter((s) => s.length >= dims);
    traces.push({
      type: "scatter",
      mode: "markers",
      x: starts.map((s) => s[0]),
      y: starts.map((s) => (dims === 1 ? pointOnCurve(s[0]) : s[1])),
      meta: { role: "start" },
      marker: { symbol: "circle", size: 13, color: "#ffffff", line: { color: "#111827", width: 3 } },
      hovertemplate: "start<br>(%{x:.4g}, %{y:.4g})<extra></extra>",
    });
    // analysed point
    const a = state.analysis;
    const ap = a && a.point.length === dims ? a.point : null;
    traces.push({
      type: "scatter",
      mode: "markers",
      x: ap ? [ap[0]] : [],
      y: ap ? [dims === 1 ? a.body.value : ap[1]] : [],
      meta: { role: "analysis" },
      marker: { symbol: "circle-open", size: 22, color: "#111827", line: { width: 2.5 } },
      hovertemplate: ap ? `${CLASS_TEXT[a.body.classification] || a.body.classification}<extra></extra>` : "",
    });
    // runs: the whole path, faint (clickable); the overlay draws the animated part on top
    state.runs.forEach((run, i) => {
      traces.push({
        type: "scatter",
        mode: run.xs.length <= 250 ? "lines+markers" : "lines",
        x: run.xs,
        y: run.ys,
        meta: { role: "path", run: i },
        name: run.label,
        opacity: 0.38,
        line: { color: run.color, width: 1.6 },
        marker: { color: run.color, size: 5 },
        hovertemplate: `${escapeForPlotly(run.label)}<br>step %{customdata}<br>(%{x:.4g}, %{y:.4g})<extra></extra>`,
        customdata: run.steps,
      });
    });
    const box = L.box;
    const yRange = dims === 1 ? curveRange(L) : box[1];
    const layout = {
      margin: { l: 54, r: 8, t: 8, b: 44 },
      font: { family: FONT, size: 12, color: "#2b3042" },
      paper_bgcolor: "#ffffff",
      plot_bgcolor: dims === 1 ? "#fbfcfe" : "#ffffff",
      hovermode: "closest",
      clickanywhere: true,
      showlegend: false,
      dragmode: "zoom",
      uirevision: L.key,
      xaxis: {
        title: { text: xname, standoff: 6 },
        range: box[0].slice(),
        autorange: false,
        zeroline: false,
        showgrid: dims === 1,
        gridcolor: "#eef0f5",
        ticks: "outside",
        ticklen: 4,
        tickcolor: "#c5cad8",
        linecolor: "#c5cad8",
        mirror: true,
      },
      yaxis: {
        title: { text: yname, standoff: 6 },
        range: yRange,
        autorange: false,
        zeroline: false,
        showgrid: dims === 1,
        gridcolor: "#eef0f5",
        ticks: "outside",
        ticklen: 4,
        tickcolor: "#c5cad8",
        linecolor: "#c5cad8",
        mirror: true,
      },
      annotations: escapeArrows(),
      hoverlabel: { font: { family: FONT, size: 12 } },
    };
    return { traces, layout };
  }

  function escapeForPlotly(text) {
    return String(text).replace(/[<>&]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;" })[c]);
  }

  function curveRange(L) {
    const ys = L.data.z[0].filter((v) => v !== null);
    if (!ys.length) return [-1, 1];
    const lo = Math.min(...ys);
    const hi = Math.max(...ys);
    const pad = (hi - lo || 1) * 0.08;
    return [lo - pad, hi + pad];
  }

  /** The escape direction of a saddle, drawn both ways from the point: f decreases along ±d. */
  function escapeArrows() {
    const a = state.analysis;
    const L = state.landscape;
    if (!a || !L || L.dims !== 2 || !a.body.escape_direction || a.point.length !== 2) return [];
    const [p, d] = [a.point, a.body.escape_direction];
    const span = Math.hypot(L.box[0][1] - L.box[0][0], L.box[1][1] - L.box[1][0]);
    const len = span * 0.12;
    return [1, -1].map((sign) => ({
      x: p[0] + sign * len * d[0],
      y: p[1] + sign * len * d[1],
      ax: p[0],
      ay: p[1],
      xref: "x",
      yref: "y",
      axref: "x",
      ayref: "y",
      showarrow: true,
      arrowhead: 2,
      arrowsize: 1.3,
      arrowwidth: 2.5,
      arrowcolor: "#ff3b30",
      text: "",
      standoff: 0,
    }));
  }

  let contourBound = false;

  function drawContour() {
    if (!state.landscape) return Promise.resolve();
    const { traces, layout } = contourFigure();
    $("#contour-title").textContent = state.landscape.dims === 1 ? "Loss curve" : "Landscape";
    const done = Plotly.react(contourDiv, traces, layout, PLOT_CONFIG).then(() => contourOverlay.render());
    if (!contourBound) {
      contourBound = true;
      contourDiv.on("plotly_click", onContourClick);
    }
    return done;
  }

  function onContourClick(event) {
    if (!state.landscape) return;
    const dims = state.landscape.dims;
    const point = event.points && event.points[0];
    const meta = point && point.data && point.data.meta;
    if (meta && (meta.role === "path" || meta.role === "head")) {
      const run = state.runs[meta.run];
      const k = meta.role === "path" ? point.pointIndex : Math.min(state.frame, run.xs.length - 1);
      analyzeAt(run.params[k], `${run.label}, step ${run.steps[k]}`);
      return;
    }
    if (meta && meta.role === "minimum") {
      analyzeAt([point.x, point.y], "known minimum");
      return;
    }
    if (meta && meta.role === "start" && !(event.event && event.event.shiftKey)) {
      const start = state.starts.filter((s) => s.length === dims)[point.pointIndex];
      if (start) {
        analyzeAt(start, "start");
        return;
      }
    }
    const x = event.xvals ? event.xvals[0] : point && point.x;
    const y = event.yvals ? event.yvals[0] : point && point.y;
    if (!Number.isFinite(x) || (dims === 2 && !Number.isFinite(y))) return;
    const box = state.landscape.box;
    const p = dims === 1 ? [tidy(x, box[0][1] - box[0][0])] : [tidy(x, box[0][1] - box[0][0]), tidy(y, box[1][1] - box[1][0])];
    const shift = event.event && event.event.shiftKey;
    if (shift) state.starts.push(p);
    else state.starts = [p];
    startsMoved();
    renderStarts();
    drawContour();
    analyzeAt(p, shift ? `start ${state.starts.length}` : "start");
  }

  // ---------------------------------------------------------------- starts

  function renderStarts() {
    const list = $("#starts");
    const dims = currentDims();
    const vars = lossVariables();
    list.replaceChildren();
    state.starts.forEach((start, i) => {
      const input = (axis) => h("input", {
        type: "number",
        step: "any",
        value: start[axis] === undefined ? "" : String(start[axis]),
        "aria-label": `start ${i + 1} ${vars[axis] || (axis ? "y" : "x")}`,
        title: vars[axis] || "",
        dataset: { field: `starts.${i}` },
        oninput: (e) => {
          const v = numberOrNull(e.target.value);
          if (v === null) return;
          state.starts[i][axis] = v;
          startsMoved();
          drawContour();
        },
      });
      const remove = h("button", {
        class: "icon-btn",
        type: "button",
        title: "Remove this start",
        "aria-label": `Remove start ${i + 1}`,
        disabled: state.starts.length === 1,
        onclick: () => {
          state.starts.splice(i, 1);
          renderStarts();
          drawContour();
        },
      }, "×");
      list.append(h("div", { class: `start-row${dims === 1 ? " one-d" : ""}` },
        h("span", { class: "dot" }),
        h("span", { class: "name" }, state.starts.length > 1 ? `#${i + 1}` : "at"),
        input(0),
        dims === 2 ? input(1) : null,
        remove));
      list.append(h("div", { class: "field-error", dataset: { loc: `starts.${i}` }, hidden: true }));
    });
  }

  /** The runs shown no longer start where the controls say: say so beside them. */
  function startsMoved() {
    if (!state.runs.length) return;
    state.runNote = "the start moved: press Run for new runs";
    $("#runs-note").textContent = state.runNote;
  }

  /** Make every start match the loss's number of variables. */
  function fitStartsToDims() {
    const dims = currentDims();
    const L = readBox();
    state.starts = state.starts.map((s) => {
      if (s.length === dims) return s;
      if (dims === 1) return [s[0]];
      const mid = L[1][0] !== null && L[1][1] !== null ? (L[1][0] + L[1][1]) / 2 : 0;
      return [s[0], mid];
    });
    if (!state.starts.length) state.starts = [dims === 1 ? [1] : [1, 1]];
  }

  function defaultStart(entry, box) {
    if (entry && entry.name === "rosenbrock") return [-1.2, 1];
    const [[x0, x1], [y0, y1]] = box;
    return [tidy(x0 + 0.18 * (x1 - x0), x1 - x0), tidy(y1 - 0.2 * (y1 - y0), y1 - y0)];
  }

  // ---------------------------------------------------------------- optimizers

  function defaultValues(name) {
    const entry = state.optimizerByName[name];
    const values = {};
    if (entry) for (const hp of entry.hyperparameters) values[hp.name] = hp.default;
    return values;
  }

  function optimizerRow(spec) {
    const { name, ...rest } = spec;
    const entry = state.optimizerByName[name];
    const values = defaultValues(name);
    const extra = {};
    for (const [key, value] of Object.entries(rest)) {
      if (entry && entry.hyperparameters.some((hp) => hp.name === key)) values[key] = value;
      else extra[key] = value;
    }
    return { name, values, extra };
  }

  function hpInput(row, i, hp) {
    const field = `optimizers.${i}.${hp.name}`;
    const value = row.values[hp.name];
    const title = [hp.meaning, hp.range ? `Range ${hp.range}.` : "", `Default ${hp.default}.`].filter(Boolean).join(" ");
    if (hp.type === "boolean") {
      return h("input", {
        type: "checkbox",
        checked: Boolean(value),
        title,
        dataset: { field },
        onchange: (e) => { row.values[hp.name] = e.target.checked; },
      });
    }
    if (hp.choices && hp.choices.length) {
      const entry = state.optimizerByName[row.name];
      const forms = Object.fromEntries(((entry && entry.forms) || []).map((f) => [f.name, f]));
      return h("select", {
        title,
        dataset: { field },
        onchange: (e) => { row.values[hp.name] = e.target.value; },
      }, hp.choices.map((choice) => h("option", {
        value: choice,
        selected: choice === value,
        title: forms[choice] ? `${forms[choice].rule} — ${forms[choice].description}` : null,
      }, choice)));
    }
    const integer = hp.type === "integer";
    return h("input", {
      type: "number",
      step: integer ? 1 : "any",
      min: hp.minimum ?? null,
      max: hp.maximum ?? null,
      value: value === null || value === undefined ? "" : String(value),
      placeholder: String(hp.default ?? ""),
      title,
      dataset: { field },
      oninput: (e) => {
        const v = numberOrNull(e.target.value);
        row.values[hp.name] = v === null ? null : integer ? Math.round(v) : v;
      },
    });
  }

  function renderOptimizers() {
    const list = $("#optimizers");
    list.replaceChildren();
    state.optRows.forEach((row, i) => {
      const entry = state.optimizerByName[row.name];
      const colour = PALETTE[i % PALETTE.length];
      const hps = entry ? entry.hyperparameters : [];
      const lr = hps.find((hp) => hp.name === "lr");
      const others = hps.filter((hp) => hp.name !== "lr");
      const changed = others.some((hp) => row.values[hp.name] !== hp.default);
      const select = h("select", {
        "aria-label": `optimizer ${i + 1}`,
        dataset: { field: `optimizers.${i}.name` },
        onchange: (e) => {
          state.optRows[i] = optimizerRow({ name: e.target.value });
          renderOptimizers();
        },
      }, state.optimizers.map((o) => h("option", { value: o.name, selected: o.name === row.name }, o.name)));
      const lrInput = lr ? hpInput(row, i, lr) : null;
      if (lrInput) lrInput.setAttribute("aria-label", `learning rate of optimizer ${i + 1}`);
      const more = others.length ? h("details", { class: "opt-more", open: changed },
        h("summary", {}, `${others.length} more hyperparameter${others.length > 1 ? "s" : ""}`),
        h("div", { class: "hp-grid" }, others.map((hp) => h("div", { class: "hp" },
          h("label", { class: "label", title: hp.meaning || "" }, hp.name,
            hp.range ? h("span", { class: "range" }, ` ${hp.range}`) : null),
          hp.type === "boolean" ? h("div", { class: "hp-check" }, hpInput(row, i, hp)) : hpInput(row, i, hp))))) : null;
      list.append(h("div", { class: "opt-row", style: `--c: ${colour}`, dataset: { index: String(i) } },
        h("div", { class: "opt-head" },
          h("span", { class: "swatch", title: `colour of run ${i + 1}` }),
          select,
          h("span", { class: "lr-tag", title: lr ? lr.meaning : "" }, lr ? "lr" : ""),
          lrInput || h("span"),
          h("button", {
            class: "icon-btn",
            type: "button",
            title: "Remove this optimizer",
            "aria-label": `Remove optimizer ${i + 1}`,
            disabled: state.optRows.length === 1,
            onclick: () => {
              state.optRows.splice(i, 1);
              renderOptimizers();
            },
          }, "×")),
        h("div", { class: "opt-title", title: entry ? entry.rule : "" }, entry ? entry.title : ""),
        more,
        h("div", { class: "field-error", dataset: { loc: `optimizers.${i}` }, hidden: true })));
    });
    $("#add-optimizer").disabled = state.optRows.length >= MAX_OPTIMIZERS;
    $("#add-optimizer").textContent = state.optRows.length >= MAX_OPTIMIZERS
      ? `Up to ${MAX_OPTIMIZERS} optimizers`
      : "+ Add optimizer";
  }

  function addOptimizer() {
    if (state.optRows.length >= MAX_OPTIMIZERS) return;
    const used = new Set(state.optRows.map((r) => r.name));
    const next = ["adam", "momentum", "sgd", "rmsprop", "nesterov", "adagrad"].find((n) => !used.has(n) && state.optimizerByName[n])
      || (state.optimizers[0] && state.optimizers[0].name);
    state.optRows.push(optimizerRow({ name: next }));
    renderOptimizers();
  }

  /** The optimizer specs to send: the name, lr, and every value that differs from its default. */
  function readOptimizers() {
    return state.optRows.map((row) => {
      const entry = state.optimizerByName[row.name];
      const spec = { name: row.name };
      for (const hp of entry ? entry.hyperparameters : []) {
        const value = row.values[hp.name];
        if (value === null || value === undefined) continue;
        if (hp.name === "lr" || value !== hp.default) spec[hp.name] = value;
      }
      return { ...spec, ...row.extra };
    });
  }

  function describeOptimizer(spec) {
    const entry = state.optimizerByName[spec.name];
    const parts = [];
    for (const [key, value] of Object.entries(spec)) {
      if (key === "name") continue;
      const hp = entry && entry.hyperparameters.find((p) => p.name === key);
      if (hp && key !== "lr" && value === hp.default) continue;
      parts.push(typeof value === "boolean" ? (value ? key : `no ${key}`) : `${key} ${typeof value === "number" ? fmt(value, 3) : value}`);
    }
    return parts.length ? `${spec.name} · ${parts.join(", ")}` : spec.name;
  }

  // ---------------------------------------------------------------- stopping and schedule

  function renderSchedule() {
    const type = $("#schedule").value;
    const box = $("#schedule-fields");
    box.replaceChildren();
    const fields = [...(SCHEDULE_FIELDS[type] || []), ...WARMUP_FIELDS];
    for (const f of fields) {
      const id = `schedule-${f.name}`;
      let value = state.scheduleValues[f.name];
      if (value === undefined) value = f.name === "t_max" ? numberOrNull($("#max-steps").value) || f.value : f.value;
      box.append(h("div", { class: "field" },
        h("label", { class: "label", for: id, title: f.title }, f.label),
        h("input", {
          id,
          type: "number",
          step: f.integer ? 1 : "any",
          min: f.min ?? null,
          max: f.max ?? null,
          value: value === null ? "" : String(value),
          title: f.title,
          dataset: { field: `schedule.${f.name}` },
          oninput: (e) => { state.scheduleValues[f.name] = numberOrNull(e.target.value); },
        }),
        h("div", { class: "field-error", dataset: { loc: `schedule.${f.name}` }, hidden: true })));
    }
  }

  function readSchedule() {
    const type = $("#schedule").value;
    const spec = { type };
    for (const f of [...(SCHEDULE_FIELDS[type] || []), ...WARMUP_FIELDS]) {
      const v = numberOrNull($(`#schedule-${f.name}`).value);
      if (v === null) continue;
      if (WARMUP_FIELDS.includes(f) && v === 0) continue;
      spec[f.name] = f.integer ? Math.round(v) : v;
    }
    return type === "constant" && Object.keys(spec).length === 1 ? null : spec;
  }

  function setSchedule(schedule) {
    state.scheduleValues = {};
    const type = schedule && schedule.type ? schedule.type : "constant";
    $("#schedule").value = SCHEDULE_FIELDS[type] ? type : "constant";
    if (schedule) for (const [k, v] of Object.entries(schedule)) if (k !== "type") state.scheduleValues[k] = v;
    renderSchedule();
  }

  function readStop() {
    const stop = {};
    const maxSteps = numberOrNull($("#max-steps").value);
    const gradTol = numberOrNull($("#grad-tol").value);
    const lossTol = numberOrNull($("#loss-tol").value);
    if (maxSteps !== null) stop.max_steps = Math.round(maxSteps);
    if (gradTol !== null) stop.grad_tol = gradTol;
    if (lossTol !== null && lossTol !== 0) stop.loss_tol = lossTol;
    return stop;
  }

  function setStop(stop) {
    const s = stop || {};
    $("#max-steps").value = String(s.max_steps ?? 1000);
    $("#grad-tol").value = String(s.grad_tol ?? 1e-8);
    $("#loss-tol").value = String(s.loss_tol ?? 0);
  }

  // ---------------------------------------------------------------- running

  function setBusy(busy, text) {
    $("#run").disabled = busy;
    const status = $("#run-status");
    status.textContent = text || "";
    status.classList.toggle("busy", busy);
  }

  function batchBody() {
    fitStartsToDims();
    const body = {
      loss: lossSpec(),
      starts: clone(state.starts),
      optimizers: readOptimizers(),
      stop: readStop(),
    };
    const schedule = readSchedule();
    if (schedule) body.schedule = schedule;
    const steps = body.stop.max_steps ?? 1000;
    if (steps > MAX_POINTS_PER_RUN) body.record = { every: Math.ceil(steps / MAX_POINTS_PER_RUN) };
    return body;
  }

  function batchLabels(body) {
    const labels = [];
    for (const spec of body.optimizers) {
      for (let s = 0; s < body.starts.length; s++) {
        const label = describeOptimizer(spec);
        labels.push(body.starts.length > 1 ? `${label} · start #${s + 1}` : label);
      }
    }
    return labels;
  }

  /** One /v1/runs/batch request from the controls; `fit` refits the box to the runs. */
  async function runBatch({ labels = null, fit = false } = {}) {
    clearErrors();
    const loss = lossSpec();
    if (loss.type === "expression" && !loss.expression) {
      placeError("loss", "Type a formula, or pick a builtin loss.");
      return false;
    }
    if (!state.optRows.length) {
      placeError("optimizers", "Add an optimizer.");
      return false;
    }
    const body = batchBody();
    const seq = ++state.requests.run;
    pause();
    setBusy(true, "Running…");
    const started = performance.now();
    const landscapeReady = fit ? null : refreshLandscape();
    let answer;
    try {
      answer = await api("POST", "/v1/runs/batch", body);
    } catch (err) {
      if (seq !== state.requests.run) return false;
      setBusy(false, "");
      showProblem(err, "run");
      return false;
    }
    if (seq !== state.requests.run) return false;
    const ms = Math.round(performance.now() - started);
    const names = labels && labels.length === answer.runs.length ? labels : batchLabels(body);
    await showRuns(answer.runs, names, fit, landscapeReady);
    setBusy(false, `${answer.runs.length} run${answer.runs.length > 1 ? "s" : ""} in ${ms} ms`);
    return true;
  }

  /** Separate /v1/runs requests, as some lessons send them. */
  async function runSingles(requests, labels) {
    clearErrors();
    const seq = ++state.requests.run;
    pause();
    setBusy(true, "Running…");
    const started = performance.now();
    let answers;
    try {
      answers = await Promise.all(requests.map((body, i) => api("POST", "/v1/runs", body).catch((err) => {
        err.index = i;
        throw err;
      })));
    } catch (err) {
      if (seq !== state.requests.run) return false;
      setBusy(false, "");
      showProblem(err, "run", (loc) => {
        if (loc[0] === "optimizer") return ["optimizers", String(err.index), ...loc.slice(1)];
        if (loc[0] === "start") return ["starts", ...loc.slice(1)];
        return loc;
      });
      return false;
    }
    if (seq !== state.requests.run) return false;
    const ms = Math.round(performance.now() - started);
    const names = labels && labels.length === answers.length ? labels : requests.map((r) => describeOptimizer(r.optimizer));
    await showRuns(answers, names, true, null);
    setBusy(false, `${answers.length} runs in ${ms} ms (separate /v1/runs requests)`);
    return true;
  }

  async function showRuns(answers, labels, fit, landscapeReady) {
    const dims = currentDims();
    state.runs = answers.map((run, i) => {
      const t = run.trajectory;
      const xs = t.params.map((p) => p[0]);
      const ys = dims === 1 ? t.loss.slice() : t.params.map((p) => p[1]);
      return {
        label: labels[i],
        color: PALETTE[i % PALETTE.length],
        status: run.status,
        message: run.message,
        stepsTaken: run.steps,
        steps: t.step,
        epochs: t.epoch || null,
        params: t.params,
        loss: t.loss,
        gradNorm: t.grad_norm,
        final: run.final,
        analysis: run.analysis,
        xs,
        ys,
      };
    });
    state.maxFrame = Math.max(0, ...state.runs.map((r) => r.xs.length - 1));
    state.frame = 0;
    state.analysis = null;
    renderAnalysis();
    if (fit) {
      writeBox(fittedBox());
      await refreshLandscape();
    } else if (landscapeReady) {
      await landscapeReady;
    }
    $("#step-slider").max = String(state.maxFrame);
    renderLegend();
    await drawContour();
    drawLossChart();
    setFrame(0);
    play();
  }

  /** A box holding the loss's domain, the starts and the runs (diverged ones only nearby). */
  function fittedBox() {
    const dims = currentDims();
    const entry = builtinEntry();
    const xs = [];
    const ys = [];
    const add = (p) => {
      if (!p || !Number.isFinite(p[0])) return;
      xs.push(p[0]);
      if (dims === 2 && Number.isFinite(p[1])) ys.push(p[1]);
    };
    if (entry && entry.domain && dims === 2) {
      add([entry.domain[0][0], entry.domain[1][0]]);
      add([entry.domain[0][1], entry.domain[1][1]]);
    }
    state.starts.forEach(add);
    for (const run of state.runs) if (run.status !== "diverged") run.params.forEach(add);
    if (!xs.length) return readBox();
    const extent = (values) => [Math.min(...values), Math.max(...values)];
    let bx = extent(xs);
    let by = ys.length ? extent(ys) : [-1, 1];
    if (entry && entry.domain && dims === 2) {
      const [[dx0, dx1], [dy0, dy1]] = entry.domain;
      if (bx[0] >= dx0 && bx[1] <= dx1 && by[0] >= dy0 && by[1] <= dy1) return clone(entry.domain);
    }
    // diverged runs: keep the points within twice the box around its centre
    const grow = (range, values) => {
      const mid = (range[0] + range[1]) / 2;
      const half = Math.max((range[1] - range[0]) / 2, 1e-9) * 2;
      const near = values.filter((v) => Math.abs(v - mid) <= half);
      return near.length ? [Math.min(range[0], ...near), Math.max(range[1], ...near)] : range;
    };
    for (const run of state.runs) {
      if (run.status !== "diverged") continue;
      bx = grow(bx, run.params.map((p) => p[0]));
      if (dims === 2) by = grow(by, run.params.map((p) => p[1]));
    }
    const pad = (range, other) => {
      let [lo, hi] = range;
      let w = hi - lo;
      const minimum = Math.max(0.2 * other, 1e-6, Math.abs(hi) * 0.05);
      if (w < minimum) {
        const mid = (lo + hi) / 2;
        lo = mid - minimum / 2;
        hi = mid + minimum / 2;
        w = minimum;
      }
      lo -= 0.08 * w;
      hi += 0.08 * w;
      const step = 10 ** (Math.floor(Math.log10(hi - lo)) - 1);
      return [Math.floor(lo / step) * step, Math.ceil(hi / step) * step].map((v) => Number(v.toPrecision(6)));
    };
    const wx = bx[1] - bx[0];
    const wy = by[1] - by[0];
    return [pad(bx, wy || 1), dims === 2 ? pad(by, wx || 1) : readBox()[1]];
  }

  // ---------------------------------------------------------------- animation

  let renderQueued = false;
  let contourOverlay = null;
  let lossOverlay = null;
  let lastTick = null;
  let carry = 0;

  function setFrame(k) {
    state.frame = clamp(Math.round(k), 0, state.maxFrame);
    $("#step-slider").value = String(state.frame);
    const longest = state.runs.reduce((a, r) => (r.steps.length > (a ? a.steps.length : 0) ? r : a), null);
    const step = longest ? longest.steps[Math.min(state.frame, longest.steps.length - 1)] : 0;
    const last = longest ? longest.steps[longest.steps.length - 1] : 0;
    $("#step-label").textContent = `step ${step} / ${last}`;
    if (!renderQueued) {
      renderQueued = true;
      requestAnimationFrame(renderFrame);
    }
  }

  function renderFrame() {
    renderQueued = false;
    contourOverlay.render();
    lossOverlay.render();
  }

  /** The runs up to the current frame, drawn in SVG over a Plotly plot's area: Plotly's own
   * fast animation path drops contour and heatmap traces, and a restyle per frame redraws the
   * whole landscape. */
  class Overlay {
    constructor(gd, draw) {
      this.gd = gd;
      this.draw = draw;
      this.svg = document.createElementNS(SVG_NS, "svg");
      this.svg.setAttribute("class", "overlay");
      this.svg.setAttribute("aria-hidden", "true");
      gd.parentElement.append(this.svg);
      this.bound = false;
    }

    bind() {
      if (this.bound || !this.gd.on) return;
      this.bound = true;
      for (const name of ["plotly_afterplot", "plotly_relayout", "plotly_relayouting"]) {
        this.gd.on(name, () => this.render());
      }
    }

    render() {
      const layout = this.gd._fullLayout;
      if (!layout || !layout.xaxis || !layout.yaxis || !this.gd.data) {
        this.svg.replaceChildren();
        return;
      }
      this.bind();
      const xa = layout.xaxis;
      const ya = layout.yaxis;
      Object.assign(this.svg.style, {
        left: `${xa._offset}px`,
        top: `${ya._offset}px`,
        width: `${xa._length}px`,
        height: `${ya._length}px`,
      });
      const px = (v) => clamp(xa.c2p(v), -1e5, 1e5);
      const py = (v) => clamp(ya.c2p(v), -1e5, 1e5);
      this.svg.replaceChildren(...this.draw(px, py, xa._length, ya._length));
    }
  }

  const SVG_NS = "http://www.w3.org/2000/svg";

  function svg(tag, attrs) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    return el;
  }

  function drawRunsOnLandscape(px, py) {
    if (!state.landscape) return [];
    const items = [];
    state.runs.forEach((run, i) => {
      const n = Math.min(state.frame, run.xs.length - 1);
      const points = [];
      for (let j = 0; j <= n; j++) {
        const x = px(run.xs[j]);
        const y = py(run.ys[j]);
        if (Number.isFinite(x) && Number.isFinite(y)) points.push(`${x.toFixed(1)},${y.toFixed(1)}`);
      }
      const dotted = run.xs.length <= 250;
      items.push(svg("polyline", {
        points: points.join(" "),
        fill: "none",
        stroke: run.color,
        "stroke-width": 2.6,
        "stroke-linejoin": "round",
        "stroke-linecap": "round",
        "marker-mid": dotted ? `url(#dot-${i})` : "none",
        "data-run": i,
        "data-points": n + 1,
      }));
      if (dotted) {
        const marker = svg("marker", { id: `dot-${i}`, markerWidth: 6, markerHeight: 6, refX: 3, refY: 3, markerUnits: "userSpaceOnUse" });
        marker.append(svg("circle", { cx: 3, cy: 3, r: 2.2, fill: run.color, stroke: "#ffffff", "stroke-width": 0.6 }));
        items.unshift(marker);
      }
      const hx = px(run.xs[n]);
      const hy = py(run.ys[n]);
      if (Number.isFinite(hx) && Number.isFinite(hy)) {
        items.push(svg("circle", { cx: hx, cy: hy, r: 6.5, fill: run.color, stroke: "#ffffff", "stroke-width": 2.2, class: "head" }));
      }
    });
    return items;
  }

  function drawStepCursor(px, py, width, height) {
    if (!state.runs.length) return [];
    const items = [];
    const longest = state.runs.reduce((a, r) => (r.steps.length > a.steps.length ? r : a));
    const x = px(lossX(longest)[Math.min(state.frame, longest.steps.length - 1)]);
    if (Number.isFinite(x)) {
      items.push(svg("line", { x1: x, x2: x, y1: 0, y2: height, stroke: "#4338ca", "stroke-width": 1, "stroke-dasharray": "3 3", opacity: 0.6 }));
    }
    for (const run of state.runs) {
      const n = Math.min(state.frame, run.steps.length - 1);
      const cx = px(lossX(run)[n]);
      const cy = py(run.loss[n]);
      if (!Number.isFinite(cx) || !Number.isFinite(cy) || cx < -10 || cx > width + 10) continue;
      items.push(svg("circle", { cx, cy, r: 5.5, fill: run.color, stroke: "#ffffff", "stroke-width": 2 }));
    }
    return items;
  }

  function play() {
    if (!state.runs.length || state.maxFrame === 0) return;
    if (state.frame >= state.maxFrame) setFrame(0);
    state.playing = true;
    lastTick = null;
    carry = 0;
    updatePlayButton();
    requestAnimationFrame(tick);
  }

  function pause() {
    state.playing = false;
    updatePlayButton();
  }

  function tick(now) {
    if (!state.playing) return;
    if (lastTick === null) lastTick = now;
    const dt = now - lastTick;
    lastTick = now;
    const speed = Number($("#speed").value) || 1;
    const total = clamp(state.maxFrame * 40, 1500, 6000) / speed;
    carry += (dt * state.maxFrame) / total;
    const advance = Math.floor(carry);
    if (advance > 0) {
      carry -= advance;
      setFrame(state.frame + advance);
    }
    if (state.frame >= state.maxFrame) {
      pause();
      return;
    }
    requestAnimationFrame(tick);
  }

  function updatePlayButton() {
    const button = $("#play");
    button.innerHTML = state.playing ? PAUSE_ICON : PLAY_ICON;
    button.setAttribute("aria-label", state.playing ? "Pause" : "Play");
    document.body.dataset.playing = state.playing ? "true" : "false";
  }

  // ---------------------------------------------------------------- loss chart

  /** Runs on data plot their loss against epochs (passes over the data), others against steps. */
  const byEpoch = () => state.runs.length > 0 && state.runs.every((run) => run.epochs);
  const lossX = (run) => (byEpoch() ? run.epochs : run.steps);

  function drawLossChart() {
    const runs = state.runs;
    const unit = byEpoch() ? "epoch" : "step";
    $("#loss-title").textContent = `Loss per ${unit}`;
    const scaleChoice = $("#loss-scale").value;
    const allPositive = runs.length > 0 && runs.every((r) => r.loss.every((v) => v > 0));
    const log = scaleChoice === "log" ? allPositive : scaleChoice === "auto" && allPositive;
    const traces = [];
    runs.forEach((run) => {
      traces.push({
        type: "scatter",
        mode: "lines",
        x: lossX(run),
        y: run.loss,
        meta: { role: "loss", label: run.label },
        line: { color: run.color, width: 2 },
        hovertemplate: `${escapeForPlotly(run.label)}<br>${unit} %{x:.4~g}<br>f = %{y:.5g}<extra></extra>`,
      });
    });
    const axis = {
      zeroline: false,
      gridcolor: "#eef0f5",
      linecolor: "#c5cad8",
      ticks: "outside",
      ticklen: 4,
      tickcolor: "#c5cad8",
      mirror: true,
    };
    const layout = {
      margin: { l: 60, r: 10, t: 8, b: 44 },
      font: { family: FONT, size: 12, color: "#2b3042" },
      paper_bgcolor: "#ffffff",
      plot_bgcolor: "#ffffff",
      showlegend: false,
      hovermode: "closest",
      xaxis: { ...axis, title: { text: unit, standoff: 6 }, visible: runs.length > 0 },
      yaxis: {
        ...axis,
        type: log ? "log" : "linear",
        exponentformat: "power",
        title: { text: log ? "f (log scale)" : "f", standoff: 6 },
        visible: runs.length > 0,
      },
      annotations: runs.length ? (scaleChoice !== "linear" && !allPositive ? [{
        xref: "paper", yref: "paper", x: 1, y: 1, xanchor: "right", yanchor: "top", showarrow: false,
        text: "linear: the loss reaches 0 or below", font: { size: 11, color: "#7b8299" },
      }] : []) : [{
        xref: "paper", yref: "paper", x: 0.5, y: 0.5, showarrow: false,
        text: "Run optimizers to see their loss per step", font: { size: 13, color: "#7b8299" },
      }],
    };
    return Plotly.react(lossDiv, traces, layout, PLOT_CONFIG).then(() => lossOverlay.render());
  }

  // ---------------------------------------------------------------- legend

  function renderLegend() {
    const list = $("#legend");
    list.replaceChildren();
    if (!state.runs.length) {
      list.append(h("li", { class: "empty" }, "No runs yet: pick optimizers and press ", h("b", {}, "Run"), ", or open a lesson."));
      $("#runs-note").textContent = "";
      return;
    }
    $("#runs-note").textContent = state.runNote || "click a run for the Hessian at its last point";
    state.runs.forEach((run, i) => {
      const cls = run.analysis && run.analysis.classification;
      list.append(h("li", {
        class: "run-item",
        style: `--c: ${run.color}`,
        dataset: { run: String(i), status: run.status },
        title: "Show the analysis of this run's last point",
        onclick: () => {
          state.analysis = { point: run.final.params, body: run.analysis, label: `${run.label}, last point` };
          renderAnalysis();
          drawContour();
        },
      },
      h("span", { class: "swatch" }),
      h("span", { class: "title" }, run.label),
      h("span", { class: `badge ${run.status}` }, run.status.replace("_", " ")),
      h("span", { class: "msg" }, run.message),
      h("span", { class: "facts" },
        `${run.stepsTaken} steps · f = ${fmt(run.final.loss)} · ‖∇f‖ = ${fmt(run.final.grad_norm, 3)} · ends at ${fmtVec(run.final.params, 4)}`,
        cls ? ` · ${CLASS_TEXT[cls] || cls}` : "")));
    });
  }

  // ---------------------------------------------------------------- analysis

  async function analyzeAt(point, label, loss = null) {
    const seq = ++state.requests.analysis;
    clearErrors(["point"]);
    const panel = $("#analysis");
    panel.replaceChildren(h("p", { class: "empty" }, `Analysing ${fmtVec(point)}…`));
    let body;
    try {
      body = await api("POST", "/v1/analyze", { loss: loss || lossSpec(), point });
    } catch (err) {
      if (seq !== state.requests.analysis) return;
      panel.replaceChildren();
      showProblem(err, "point", (loc) => (loc[0] === "loss" ? ["point"] : loc));
      return;
    }
    if (seq !== state.requests.analysis) return;
    state.analysis = { point, body, label };
    renderAnalysis();
    drawContour();
  }

  function renderAnalysis() {
    const panel = $("#analysis");
    const a = state.analysis;
    if (!a) {
      panel.replaceChildren(h("p", { class: "empty" },
        "Click the landscape or a trajectory point to classify it: minimum, maximum, saddle or degenerate."));
      return;
    }
    const b = a.body;
    const rows = [
      ["f", fmt(b.value, 6)],
      ["‖∇f‖", fmt(b.gradient_norm, 4)],
      ["gradient", fmtVec(b.gradient, 4)],
      ["Hessian eigenvalues", fmtVec(b.eigenvalues, 4)],
      ["curvature", b.curvature],
    ];
    if (b.escape_direction) rows.push(["escape direction", fmtVec(b.escape_direction, 4)]);
    if (b.condition_number !== null && b.condition_number !== undefined) rows.push(["condition number", fmt(b.condition_number, 4)]);
    if (b.stability_bound !== null && b.stability_bound !== undefined) rows.push(["stable lr below (2/λmax)", fmt(b.stability_bound, 4)]);
    if (b.optimal_momentum && typeof b.optimal_momentum === "object") {
      rows.push(["best heavy-ball (lr, momentum)",
        Object.values(b.optimal_momentum).map((v) => fmt(v, 4)).join(", ")]);
    }
    panel.replaceChildren(
      h("div", { class: "analysis-head" },
        h("span", { class: `badge ${b.classification}`, dataset: { classification: b.classification } },
          CLASS_TEXT[b.classification] || b.classification),
        h("span", { class: "where" }, `at ${fmtVec(a.point, 5)}`),
        a.label ? h("span", { class: "muted small" }, a.label) : null),
      h("table", { class: "facts-table" }, rows.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v)))),
      CLASS_NOTE[b.classification] ? h("p", { class: "note" }, CLASS_NOTE[b.classification]) : null,
    );
  }

  // ---------------------------------------------------------------- lessons

  function renderGallery() {
    const list = $("#gallery-list");
    list.replaceChildren();
    if (!state.examples.length) {
      list.append(h("p", { class: "muted" }, "This server offers no lessons."));
      return;
    }
    for (const ex of state.examples) {
      const kind = ex.endpoint === "/v1/analyze" ? "Hessian" : "runs";
      const count = Array.isArray(ex.request) ? ex.request.length : (ex.request.optimizers || []).length * (ex.request.starts || [1]).length;
      list.append(h("button", {
        class: "lesson-card",
        type: "button",
        dataset: { example: ex.id },
        onclick: () => openLesson(ex),
      },
      h("span", { class: "tags" }, h("span", { class: "tag" }, kind), h("span", { class: "tag" }, `${count} ${kind === "runs" ? "runs" : "points"}`)),
      h("span", { class: "t" }, ex.title),
      h("span", { class: "d" }, String(ex.explanation || "").replace(/`/g, ""))));
    }
  }

  function toggleGallery(show) {
    const gallery = $("#gallery");
    const open = show === undefined ? gallery.hidden : show;
    gallery.hidden = !open;
    $("#backdrop").hidden = !open;
    $("#lessons-toggle").setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      gallery.scrollTop = 0;
      const first = $(".lesson-card", gallery);
      if (first) first.focus({ preventScroll: true });
    }
  }

  function showLessonBox(ex) {
    $("#lesson").hidden = false;
    $("#lesson-title").textContent = ex.title;
    $("#lesson-endpoint").textContent = ex.endpoint;
    $("#lesson-text").replaceChildren(...richText(ex.explanation));
    $("#lesson-text").classList.add("clamped");
    $("#lesson-more").textContent = "Read more";
    requestAnimationFrame(() => {
      const text = $("#lesson-text");
      $("#lesson-more").hidden = text.scrollHeight <= text.clientHeight + 2;
    });
    const claim = ex.claim && ex.claim.statement;
    $("#lesson-claim").hidden = !claim;
    $("#lesson-claim").replaceChildren(...(claim ? [h("b", {}, "Expected: "), ...richText(claim)] : []));
    $("#lesson-analyses").hidden = true;
    $("#lesson-analyses").replaceChildren();
  }

  /** Load a lesson's request into the controls and run it. */
  async function openLesson(ex) {
    toggleGallery(false);
    window.scrollTo({ top: 0 });
    pause();
    state.lesson = ex;
    state.lessonAnalyses = null;
    showLessonBox(ex);
    clearErrors();
    const requests = Array.isArray(ex.request) ? ex.request : [ex.request];
    if (ex.endpoint === "/v1/runs/batch") {
      const req = requests[0];
      loadControls(req.loss, req.starts, req.optimizers, req.stop, req.schedule);
      state.runNote = "";
      await runBatch({ labels: ex.labels, fit: true });
    } else if (ex.endpoint === "/v1/runs") {
      const first = requests[0];
      const starts = [];
      for (const r of requests) if (r.start && !starts.some((s) => JSON.stringify(s) === JSON.stringify(r.start))) starts.push(r.start);
      loadControls(first.loss, starts.length ? starts : null, requests.map((r) => r.optimizer), first.stop, first.schedule);
      const schedules = new Set(requests.map((r) => JSON.stringify(r.schedule || null)));
      state.runNote = schedules.size > 1
        ? "this lesson sends one /v1/runs request per run (their schedules differ); Run sends one batch with the schedule shown"
        : "";
      await runSingles(requests, ex.labels);
    } else if (ex.endpoint === "/v1/analyze") {
      await openAnalyzeLesson(ex, requests);
    } else {
      $("#lesson-analyses").hidden = false;
      $("#lesson-analyses").replaceChildren(h("pre", {}, JSON.stringify(ex.request, null, 2)));
    }
  }

  function loadControls(loss, starts, optimizers, stop, schedule) {
    setLoss(loss);
    state.starts = clone(starts || state.starts);
    state.optRows = (optimizers || []).map((o) => optimizerRow(o));
    if (!state.optRows.length) state.optRows = [optimizerRow({ name: "sgd" })];
    setStop(stop);
    setSchedule(schedule || null);
    clearRuns();
    renderStarts();
    renderOptimizers();
  }

  async function openAnalyzeLesson(ex, requests) {
    setBusy(false, "");
    state.runNote = "";
    const box = $("#lesson-analyses");
    box.hidden = false;
    box.replaceChildren(h("p", { class: "muted" }, "Analysing…"));
    let answers;
    try {
      answers = await Promise.all(requests.map((r) => api("POST", "/v1/analyze", r)));
    } catch (err) {
      box.replaceChildren();
      showProblem(err, "point");
      return;
    }
    state.lessonAnalyses = { requests, answers, labels: ex.labels || [] };
    const pick = Math.max(0, answers.findIndex((a) => a.classification === "saddle_point"));
    renderLessonAnalyses(pick);
    await selectLessonAnalysis(pick);
  }

  function renderLessonAnalyses(active) {
    const { requests, answers, labels } = state.lessonAnalyses;
    const box = $("#lesson-analyses");
    box.replaceChildren(...answers.map((a, i) => h("button", {
      class: `lesson-analysis${i === active ? " active" : ""}`,
      type: "button",
      dataset: { index: String(i), classification: a.classification },
      onclick: () => {
        renderLessonAnalyses(i);
        selectLessonAnalysis(i);
      },
    },
    h("div", { class: "t" }, labels[i] || `point ${i + 1}`),
    h("code", {}, requests[i].loss.expression || requests[i].loss.name || requests[i].loss.type),
    h("div", {}, h("span", { class: `badge ${a.classification}` }, CLASS_TEXT[a.classification] || a.classification)),
    h("div", { class: "eig" }, `λ = ${fmtVec(a.eigenvalues, 3)} at ${fmtVec(a.point, 3)}`))));
  }

  async function selectLessonAnalysis(i) {
    const { requests, answers, labels } = state.lessonAnalyses;
    const req = requests[i];
    setLoss(req.loss);
    clearRuns();
    state.starts = [clone(req.point)];
    fitStartsToDims();
    const entry = builtinEntry();
    const p = req.point;
    const box = entry && entry.domain ? entry.domain : [[p[0] - 2, p[0] + 2], [(p[1] ?? 0) - 2, (p[1] ?? 0) + 2]];
    writeBox(box);
    renderStarts();
    state.analysis = { point: req.point, body: answers[i], label: labels[i] || "" };
    renderAnalysis();
    await refreshLandscape();
    await drawContour();
  }

  function clearRuns() {
    pause();
    state.runs = [];
    state.maxFrame = 0;
    state.frame = 0;
    state.analysis = null;
    $("#step-slider").max = "0";
    $("#step-slider").value = "0";
    $("#step-label").textContent = "step 0";
    renderLegend();
    renderAnalysis();
    drawLossChart();
  }

  // ---------------------------------------------------------------- wiring

  let formulaTimer = null;

  function onLossChanged() {
    const select = $("#builtin");
    const text = $("#formula").value.trim();
    if (state.lossObject && state.lossObject.type === "builtin") {
      select.value = text === state.prefilled.trim() ? state.lossObject.name : "";
    }
    updateLossHint();
    clearRuns();
    fitStartsToDims();
    renderStarts();
    refreshLandscape();
  }

  function bind() {
    $("#builtin").addEventListener("change", (e) => {
      const name = e.target.value;
      if (!name) {
        state.lossObject = null;
        state.prefilled = "";
        onLossChanged();
        return;
      }
      const entry = state.lossByName[name];
      setLoss({ type: "builtin", name });
      writeBox(entry.domain);
      state.starts = [defaultStart(entry, entry.domain)];
      onLossChanged();
    });
    $("#formula").addEventListener("input", () => {
      clearTimeout(formulaTimer);
      formulaTimer = setTimeout(onLossChanged, 500);
    });
    $("#formula").addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        clearTimeout(formulaTimer);
        onLossChanged();
      }
    });
    for (const id of ["#box-x0", "#box-x1", "#box-y0", "#box-y1"]) {
      $(id).addEventListener("change", () => refreshLandscape());
    }
    $("#redraw").addEventListener("click", () => {
      state.landscape = state.landscape && { ...state.landscape, key: "" };
      refreshLandscape();
    });
    $("#fit-box").addEventListener("click", () => {
      writeBox(fittedBox());
      refreshLandscape();
    });
    $("#colour-scale").addEventListener("change", () => {
      if (!state.landscape) return;
      state.landscape.colour = colourData(state.landscape);
      drawContour();
    });
    $("#add-optimizer").addEventListener("click", addOptimizer);
    $("#schedule").addEventListener("change", () => {
      state.scheduleValues = {};
      renderSchedule();
    });
    $("#run").addEventListener("click", () => {
      state.runNote = "";
      runBatch();
    });
    $("#play").addEventListener("click", () => (state.playing ? pause() : play()));
    $("#to-start").addEventListener("click", () => {
      pause();
      setFrame(0);
    });
    $("#to-end").addEventListener("click", () => {
      pause();
      setFrame(state.maxFrame);
    });
    $("#step-slider").addEventListener("input", (e) => {
      pause();
      setFrame(Number(e.target.value));
    });
    $("#loss-scale").addEventListener("change", () => drawLossChart());
    $("#lessons-toggle").addEventListener("click", () => toggleGallery());
    $("#gallery-close").addEventListener("click", () => toggleGallery(false));
    $("#backdrop").addEventListener("click", () => toggleGallery(false));
    $("#lesson-more").addEventListener("click", () => {
      const clamped = $("#lesson-text").classList.toggle("clamped");
      $("#lesson-more").textContent = clamped ? "Read more" : "Show less";
    });
    $("#lesson-close").addEventListener("click", () => {
      $("#lesson").hidden = true;
      state.lesson = null;
    });
    $("#apikey-form").addEventListener("submit", (e) => {
      e.preventDefault();
      sessionStorage.setItem("descent-api-key", $("#apikey").value.trim());
      $("#apikey-form").hidden = true;
      boot();
    });
    // editing a field that an error named clears that error
    document.addEventListener("input", (e) => {
      const field = e.target.closest && e.target.closest("[data-field]");
      if (!field || !field.classList.contains("invalid") || field.id === "formula") return;
      const { slot } = slotFor(field.dataset.field.split("."));
      if (slot && slot.dataset.loc !== "run") clearErrors([slot.dataset.loc]);
      field.classList.remove("invalid");
    });
    document.addEventListener("keydown", (e) => {
      if (e.target.closest("input, textarea, select")) return;
      if (e.key === " " && state.runs.length) {
        e.preventDefault();
        state.playing ? pause() : play();
      }
      if (e.key === "Escape") toggleGallery(false);
    });
    // start points and optimizers may change with the layout width: keep Plotly sized
    window.addEventListener("resize", () => {
      if (contourDiv.data) Plotly.Plots.resize(contourDiv);
      if (lossDiv.data) Plotly.Plots.resize(lossDiv);
    });
  }

  async function boot() {
    clearErrors();
    let losses;
    let optimizers;
    try {
      [losses, optimizers] = await Promise.all([api("GET", "/v1/losses"), api("GET", "/v1/optimizers")]);
    } catch (err) {
      showProblem(err, "run");
      return;
    }
    state.losses = losses.losses.filter((l) => !l.dims || l.dims.default <= 2);
    state.lossByName = Object.fromEntries(losses.losses.map((l) => [l.name, l]));
    state.optimizers = optimizers.optimizers;
    state.optimizerByName = Object.fromEntries(state.optimizers.map((o) => [o.name, o]));

    const select = $("#builtin");
    select.replaceChildren(
      h("option", { value: "" }, "— your own formula —"),
      ...state.losses.map((l) => h("option", { value: l.name, title: l.title }, l.title.split(":")[0])),
    );

    const initial = state.lossByName.rosenbrock || state.losses[0];
    if (initial) {
      setLoss({ type: "builtin", name: initial.name });
      writeBox(initial.domain);
      state.starts = [defaultStart(initial, initial.domain)];
    } else {
      setLoss({ type: "expression", expression: "x^2 + 3*y^2" });
      writeBox([[-2, 2], [-2, 2]]);
      state.starts = [[1.5, 1.5]];
    }
    const has = (n) => Boolean(state.optimizerByName[n]);
    state.optRows = [];
    if (has("sgd")) state.optRows.push(optimizerRow({ name: "sgd", lr: 0.002, momentum: 0.9 }));
    if (has("adam")) state.optRows.push(optimizerRow({ name: "adam", lr: 0.05 }));
    if (!state.optRows.length && state.optimizers.length) state.optRows.push(optimizerRow({ name: state.optimizers[0].name }));
    setStop({ max_steps: 1000, grad_tol: 1e-6 });
    setSchedule(null);
    renderStarts();
    renderOptimizers();
    renderLegend();
    drawLossChart();

    const examples = api("GET", "/v1/examples").then((answer) => {
      state.examples = (answer && answer.examples) || [];
      renderGallery();
    }).catch((err) => {
      state.examples = [];
      renderGallery();
      showProblem(err, "examples");
    });
    await Promise.all([refreshLandscape(), examples]);
    state.ready = true;
    document.body.dataset.ready = "true";
  }

  window.explorer = {
    state,
    play,
    pause,
    setFrame,
    openLesson: (id) => openLesson(state.examples.find((e) => e.id === id)),
  };

  contourOverlay = new Overlay(contourDiv, drawRunsOnLandscape);
  lossOverlay = new Overlay(lossDiv, drawStepCursor);
  bind();
  boot();
})();
