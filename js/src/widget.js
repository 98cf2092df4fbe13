// The latent explorer's views: a 2-D latent map ("map") and one slider per dimension
// ("sliders"). Both decode in the page with decoder.js: no kernel is needed after the spec
// (weights included) has arrived.
//
// For the tests every decoded image is a canvas of exactly C x H x W pixels (scaled up by CSS
// only) that carries the code it shows in data-z, as float32 values.

import { bytes, floats, makeDecoder } from "./decoder.js";

// Matplotlib's tab10: the colours of plot.latent_scatter, so the map matches the lesson's figure.
const TAB10 = [
  "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
];
// Viridis at 9 stops, interpolated: the density colours (readable in light and dark mode).
const VIRIDIS = [
  [68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
  [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37],
];
const DENSITY_RANGE = 6; // nats below the maximum log-density that still get a colour

function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function fmt(v, digits = 2) {
  return (v < 0 ? "\u2212" : "") + Math.abs(v).toFixed(digits);
}

/** A canvas of exactly the image's size; CSS scales it up without smoothing. */
function imageCanvas(shape, className = "vx-img") {
  const [, height, width] = shape;
  return h("canvas", { class: className, width, height });
}

function drawPixels(canvas, pixels, shape) {
  const [c, height, width] = shape;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(width, height);
  const n = height * width;
  for (let q = 0; q < n; q++) {
    for (let k = 0; k < 3; k++) image.data[4 * q + k] = Math.round(255 * pixels[(c === 3 ? k : 0) * n + q]);
    image.data[4 * q + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}

function drawBytes(canvas, data, offset, shape) {
  const [, height, width] = shape;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(width, height);
  for (let q = 0; q < height * width; q++) {
    const v = data[offset + q];
    image.data.set([v, v, v, 255], 4 * q);
  }
  ctx.putImageData(image, 0, 0);
}

/** Decode z into the canvas and record the code it shows. */
function show(decoder, canvas, z) {
  const code = Float32Array.from(z);
  drawPixels(canvas, decoder.decode(code), decoder.imageShape);
  canvas.dataset.z = JSON.stringify(Array.from(code));
  return code;
}

function theme(root) {
  const style = getComputedStyle(root);
  const read = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
  return {
    fg: read("--vx-fg", "#1f2328"),
    muted: read("--vx-muted", "#666"),
    bg: read("--vx-bg", "#fff"),
    border: read("--vx-border", "#ccc"),
    accent: read("--vx-accent", "#d62728"),
  };
}

/** Call redraw when the page switches between light and dark (book, JupyterLab, system). */
function watchTheme(redraw) {
  const observer = new MutationObserver(() => redraw());
  const options = { attributes: true, attributeFilter: ["data-theme", "class", "data-jp-theme-light", "data-mode"] };
  observer.observe(document.documentElement, options);
  if (document.body) observer.observe(document.body, options);
  const media = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  media?.addEventListener?.("change", redraw);
  return () => {
    observer.disconnect();
    media?.removeEventListener?.("change", redraw);
  };
}

/** Send the code on show back to Python (explorer.z), at most a few times a second. */
function publisher(model) {
  let timer = null;
  let last = null;
  return (code, now = false) => {
    last = code;
    const send = () => {
      timer = null;
      model.set("z", Array.from(last));
      model.save_changes();
    };
    if (now) {
      clearTimeout(timer);
      send();
    } else if (timer === null) timer = setTimeout(send, 150);
  };
}

function lerp(a, b, t) {
  return a.map((v, i) => (1 - t) * v + t * b[i]);
}

// The great-circle path of vaelab.latent.slerp: direction along the arc, norm interpolated.
function slerp(a, b, t) {
  const norm = (v) => Math.hypot(...v);
  const n0 = norm(a);
  const n1 = norm(b);
  if (n0 < 1e-9 || n1 < 1e-9) return lerp(a, b, t);
  const u0 = a.map((v) => v / n0);
  const u1 = b.map((v) => v / n1);
  const cos = Math.min(1, Math.max(-1, u0.reduce((s, v, i) => s + v * u1[i], 0)));
  const omega = Math.acos(cos);
  const r = (1 - t) * n0 + t * n1;
  if (Math.abs(omega) < 1e-6) return u0.map((v) => v * r);
  const s0 = Math.sin((1 - t) * omega) / Math.sin(omega);
  const s1 = Math.sin(t * omega) / Math.sin(omega);
  return u0.map((v, i) => (s0 * v + s1 * u1[i]) * r);
}

function densityColours(values, size) {
  let max = -Infinity;
  for (const v of values) if (Number.isFinite(v) && v > max) max = v;
  const canvas = h("canvas", { width: size, height: size });
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(size, size);
  for (let q = 0; q < size * size; q++) {
    const v = values[q];
    const t = Number.isFinite(v) ? Math.max(0, 1 - (max - v) / DENSITY_RANGE) : 0;
    const x = t * (VIRIDIS.length - 1);
    const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
    const f = x - i;
    for (let k = 0; k < 3; k++) image.data[4 * q + k] = Math.round(VIRIDIS[i][k] * (1 - f) + VIRIDIS[i + 1][k] * f);
    image.data[4 * q + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
  return canvas;
}

// ---------------------------------------------------------------------------------- the map

function mapView(root, spec, model) {
  const decoder = makeDecoder(spec.decoder);
  const shape = decoder.imageShape;
  const [x0, x1, y0, y1] = spec.extent;
  const codes = floats(spec.codes);
  const labels = spec.labels ? bytes(spec.labels) : null;
  const densities = spec.densities.map((d) => ({ ...d, values: floats(d.log_density) }));
  let density = densities.length ? 0 : -1;
  const publish = publisher(model);

  const map = h("canvas", {
    class: "vx-map",
    tabindex: "0",
    role: "application",
    "aria-label": "latent map: move to decode, click two points for a path",
    "data-extent": JSON.stringify(spec.extent),
  });
  const decoded = imageCanvas(shape);
  const readout = h("div", { class: "vx-readout", "aria-live": "polite" });
  const hint = h("div", {
    class: "vx-hint",
    text: "Move over the map (or drag a finger) to decode that code; click or tap two points for the paths between them.",
  });
  const densityButtons = h("div", { class: "vx-buttons" });
  densities.forEach((d, i) => {
    const button = h("button", { type: "button", class: "vx-button", text: d.name, "data-density": String(i) });
    button.addEventListener("click", () => {
      density = density === i ? -1 : i;
      paintStatic();
      draw();
    });
    densityButtons.append(button);
  });
  const clear = h("button", { type: "button", class: "vx-button", text: "clear path" });
  const legend = h("div", { class: "vx-legend" });
  if (labels) {
    const seen = [...new Set(labels)].sort((a, b) => a - b);
    for (const c of seen)
      legend.append(h("span", { class: "vx-key" }, h("i", { style: `background:${TAB10[c % 10]}` }), String(c)));
  }
  const pathRows = h("div", { class: "vx-paths" });
  const strips = {};
  for (const name of ["linear", "slerp"]) {
    const cells = [];
    const row = h("div", { class: "vx-strip", "data-path": name }, h("span", { class: "vx-strip-name", text: name }));
    for (let i = 0; i < spec.num_steps; i++) {
      const canvas = imageCanvas(shape, "vx-thumb");
      const caption = h("span", { class: "vx-norm" });
      cells.push({ canvas, caption });
      row.append(h("span", { class: "vx-cell" }, canvas, caption));
    }
    strips[name] = cells;
    pathRows.append(row);
  }
  pathRows.hidden = true;
  root.append(
    h("div", { class: "vx-row" },
      h("div", { class: "vx-mapbox" }, map),
      h("div", { class: "vx-side" }, decoded, readout, densities.length ? densityButtons : null, legend, clear, hint)),
    pathRows,
  );

  let current = [0, 0];
  let ends = []; // the path's end points, 0 to 2
  let pending = null;
  const back = document.createElement("canvas"); // the map without the pointer's marks

  const toPixel = ([a, b], w) => [((a - x0) / (x1 - x0)) * w, ((y1 - b) / (y1 - y0)) * w];
  const toCode = (px, py, w) => [x0 + (px / w) * (x1 - x0), y1 - (py / w) * (y1 - y0)];

  function paintStatic() {
    const w = map.width;
    back.width = back.height = w;
    const ctx = back.getContext("2d");
    const colours = theme(root);
    ctx.fillStyle = colours.bg;
    ctx.fillRect(0, 0, w, w);
    densityButtons.querySelectorAll("button").forEach((b, i) => b.setAttribute("aria-pressed", String(i === density)));
    if (density >= 0) {
      const layer = densities[density];
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(densityColours(layer.values, layer.size), 0, 0, w, w);
    }
    // Axes through the origin and a tick at every integer.
    const dpr = w / map.clientWidth || 1;
    ctx.strokeStyle = colours.muted;
    ctx.fillStyle = colours.muted;
    ctx.lineWidth = dpr;
    ctx.globalAlpha = 0.5;
    const [ox, oy] = toPixel([0, 0], w);
    ctx.beginPath();
    ctx.moveTo(0, oy);
    ctx.lineTo(w, oy);
    ctx.moveTo(ox, 0);
    ctx.lineTo(ox, w);
    ctx.stroke();
    ctx.globalAlpha = 1;
    ctx.font = `${10 * dpr}px sans-serif`;
    for (let v = Math.ceil(x0); v <= Math.floor(x1); v++) {
      if (v === 0) continue;
      const [px] = toPixel([v, 0], w);
      ctx.fillRect(px - dpr / 2, oy - 3 * dpr, dpr, 6 * dpr);
      if (px < w - 24 * dpr) ctx.fillText(String(v), px - 3 * dpr, oy + 13 * dpr); // clear of "z1"
    }
    for (let v = Math.ceil(y0); v <= Math.floor(y1); v++) {
      if (v === 0) continue;
      const [, py] = toPixel([0, v], w);
      ctx.fillRect(ox - 3 * dpr, py - dpr / 2, 6 * dpr, dpr);
      if (py > 20 * dpr) ctx.fillText(String(v), ox + 5 * dpr, py + 4 * dpr); // clear of "z2"
    }
    ctx.fillText("z1", w - 16 * dpr, oy - 6 * dpr);
    ctx.fillText("z2", ox + 5 * dpr, 12 * dpr);
    // The codes.
    const r = 1.6 * dpr;
    ctx.globalAlpha = 0.75;
    for (let i = 0; i < codes.length / 2; i++) {
      const [px, py] = toPixel([codes[2 * i], codes[2 * i + 1]], w);
      ctx.fillStyle = labels ? TAB10[labels[i] % 10] : colours.fg;
      ctx.fillRect(px - r, py - r, 2 * r, 2 * r);
    }
    ctx.globalAlpha = 1;
  }

  function draw() {
    const w = map.width;
    const ctx = map.getContext("2d");
    ctx.drawImage(back, 0, 0);
    const dpr = w / map.clientWidth || 1;
    const colours = theme(root);
    if (ends.length === 2) {
      for (const [fn, dash] of [[lerp, []], [slerp, [4 * dpr, 3 * dpr]]]) {
        ctx.strokeStyle = colours.fg;
        ctx.lineWidth = 1.5 * dpr;
        ctx.setLineDash(dash);
        ctx.beginPath();
        for (let i = 0; i <= 48; i++) {
          const [px, py] = toPixel(fn(ends[0], ends[1], i / 48), w);
          if (i === 0) ctx.moveTo(px, py);
          else ctx.lineTo(px, py);
        }
        ctx.stroke();
      }
      ctx.setLineDash([]);
    }
    for (const end of ends) {
      const [px, py] = toPixel(end, w);
      ctx.fillStyle = colours.fg;
      ctx.beginPath();
      ctx.arc(px, py, 4 * dpr, 0, 2 * Math.PI);
      ctx.fill();
    }
    const [px, py] = toPixel(current, w);
    ctx.strokeStyle = colours.fg;
    ctx.lineWidth = 1.5 * dpr;
    ctx.beginPath();
    ctx.arc(px, py, 6 * dpr, 0, 2 * Math.PI);
    ctx.moveTo(px - 10 * dpr, py);
    ctx.lineTo(px + 10 * dpr, py);
    ctx.moveTo(px, py - 10 * dpr);
    ctx.lineTo(px, py + 10 * dpr);
    ctx.stroke();
  }

  function densityAt([a, b]) {
    const layer = densities[density];
    const n = layer.size;
    const gx = ((a - x0) / (x1 - x0)) * (n - 1);
    const gy = ((y1 - b) / (y1 - y0)) * (n - 1);
    if (gx < 0 || gy < 0 || gx > n - 1 || gy > n - 1) return null;
    const i = Math.min(n - 2, Math.floor(gx));
    const j = Math.min(n - 2, Math.floor(gy));
    const fx = gx - i;
    const fy = gy - j;
    const v = (r, c) => layer.values[r * n + c];
    return (1 - fy) * ((1 - fx) * v(j, i) + fx * v(j, i + 1)) + fy * ((1 - fx) * v(j + 1, i) + fx * v(j + 1, i + 1));
  }

  function update() {
    pending = null;
    const code = show(decoder, decoded, current);
    current = Array.from(code);
    let text = `z = (${fmt(current[0])}, ${fmt(current[1])})`;
    if (density >= 0) {
      const value = densityAt(current);
      if (value !== null) text += ` \u00b7 log ${densities[density].name.split(" ")[0]} \u2248 ${fmt(value)}`;
    }
    readout.textContent = text;
    draw();
    publish(code);
  }

  function schedule() {
    if (pending === null) pending = requestAnimationFrame(update);
  }

  function showPaths() {
    pathRows.hidden = ends.length < 2;
    if (ends.length < 2) return;
    for (const [name, fn] of [["linear", lerp], ["slerp", slerp]]) {
      strips[name].forEach(({ canvas, caption }, i) => {
        const z = fn(ends[0], ends[1], i / (spec.num_steps - 1));
        const code = show(decoder, canvas, z);
        caption.textContent = Math.hypot(...code).toFixed(1);
        canvas.title = `t = ${(i / (spec.num_steps - 1)).toFixed(2)}, |z| = ${Math.hypot(...code).toFixed(2)}`;
      });
    }
  }

  function pointAt(event) {
    const rect = map.getBoundingClientRect();
    return toCode(event.clientX - rect.left, event.clientY - rect.top, rect.width);
  }

  let down = null;
  map.addEventListener("pointerdown", (event) => {
    map.setPointerCapture?.(event.pointerId);
    down = { x: event.clientX, y: event.clientY };
    current = pointAt(event);
    schedule();
  });
  map.addEventListener("pointermove", (event) => {
    current = pointAt(event);
    schedule();
  });
  map.addEventListener("pointerup", (event) => {
    if (down && Math.hypot(event.clientX - down.x, event.clientY - down.y) < 8) {
      ends = ends.length === 2 ? [] : ends;
      ends.push(pointAt(event));
      showPaths();
      schedule();
    }
    down = null;
    publish(Float32Array.from(current), true);
  });
  map.addEventListener("keydown", (event) => {
    const step = (x1 - x0) / 100;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
    if (moves[event.key]) {
      current = [current[0] + moves[event.key][0], current[1] + moves[event.key][1]];
    } else if (event.key === "Enter" || event.key === " ") {
      ends = ends.length === 2 ? [] : ends;
      ends.push([...current]);
      showPaths();
    } else return;
    event.preventDefault();
    schedule();
  });
  clear.addEventListener("click", () => {
    ends = [];
    showPaths();
    draw();
  });

  function resize() {
    const css = map.clientWidth;
    if (!css) return;
    const size = Math.round(css * (window.devicePixelRatio || 1));
    if (map.width !== size) {
      map.width = map.height = size;
      paintStatic();
    }
    draw();
  }
  const sizes = new ResizeObserver(resize);
  sizes.observe(map);
  const unwatch = watchTheme(() => {
    paintStatic();
    draw();
  });
  map.width = map.height = 2;
  paintStatic();
  update();
  return () => {
    sizes.disconnect();
    unwatch();
  };
}

// ------------------------------------------------------------------------------ the sliders

function slidersView(root, spec, model) {
  const decoder = makeDecoder(spec.decoder);
  const publish = publisher(model);
  const decoded = imageCanvas(decoder.imageShape);
  const readout = h("div", { class: "vx-readout" });
  const z = spec.start.slice();
  let pending = null;

  function update() {
    pending = null;
    const code = show(decoder, decoded, z);
    readout.textContent = `decoded from the code on the sliders (${z.length} dimensions)`;
    publish(code);
  }
  const schedule = () => {
    if (pending === null) pending = requestAnimationFrame(update);
  };

  const rows = spec.dims.map((dim) => {
    const input = h("input", {
      type: "range",
      min: String(-spec.span),
      max: String(spec.span),
      step: "0.01",
      "data-dim": String(dim.index),
      "aria-label": `z${dim.index}`,
    });
    input.value = String(z[dim.index]);
    const value = h("output", { class: "vx-value", text: fmt(z[dim.index]) });
    input.addEventListener("input", () => {
      z[dim.index] = Number(input.value);
      value.textContent = fmt(z[dim.index]);
      schedule();
    });
    input.addEventListener("change", () => publish(Float32Array.from(z), true));
    let label = `z${dim.index}`;
    if (dim.kl !== null) label += ` \u00b7 KL ${dim.kl.toFixed(2)} nats`;
    if (dim.note) label += ` \u00b7 ${dim.note}`;
    const row = h(
      "label",
      { class: "vx-dim" + (dim.collapsed ? " vx-collapsed" : ""), "data-collapsed": String(dim.collapsed) },
      h("span", { class: "vx-dim-name", text: label + (dim.collapsed ? " (at the prior)" : "") }),
      input,
      value,
    );
    return { row, input, value, dim };
  });
  const reset = h("button", { type: "button", class: "vx-button", text: "reset" });
  reset.addEventListener("click", () => {
    for (const { input, value, dim } of rows) {
      z[dim.index] = spec.start[dim.index];
      input.value = String(z[dim.index]);
      value.textContent = fmt(z[dim.index]);
    }
    schedule();
  });

  const panel = h("div", { class: "vx-dims" }, h("div", { class: "vx-heading", text: "latent code z" }));
  for (const { row } of rows) panel.append(row);

  let factors = null;
  if (spec.factors.length) {
    factors = h("div", { class: "vx-factors" }, h("div", { class: "vx-heading", text: "known factors, one at a time" }));
    for (const factor of spec.factors) {
      const data = bytes(factor.images);
      const size = factor.image_shape.reduce((a, b) => a * b, 1);
      const canvas = imageCanvas(factor.image_shape, "vx-thumb vx-factor-img");
      const value = h("output", { class: "vx-value" });
      const input = h("input", {
        type: "range",
        min: "0",
        max: String(factor.values.length - 1),
        step: "1",
        "data-factor": factor.name,
        "aria-label": factor.name,
      });
      input.value = String(factor.start);
      const paint = () => {
        const i = Number(input.value);
        drawBytes(canvas, data, i * size, factor.image_shape);
        value.textContent = factor.values[i];
      };
      input.addEventListener("input", paint);
      paint();
      factors.append(h("label", { class: "vx-dim vx-factor" }, h("span", { class: "vx-dim-name", text: factor.name }), input, value, canvas));
    }
  }
  root.append(h("div", { class: "vx-row" }, h("div", { class: "vx-side" }, decoded, readout, reset), panel, factors));
  update();
  return () => {};
}

// -------------------------------------------------------------------------------- entry points

export function render({ model, el }) {
  let cleanup = () => {};
  const draw = () => {
    cleanup();
    el.replaceChildren();
    const spec = model.get("spec");
    const root = h("div", { class: "vx", "data-mode": spec.mode });
    if (spec.title) root.append(h("div", { class: "vx-title", text: spec.title }));
    el.append(root);
    cleanup = (spec.mode === "map" ? mapView : slidersView)(root, spec, model);
  };
  draw();
  model.on("change:spec", draw);
  return () => {
    cleanup();
    model.off("change:spec", draw);
  };
}

/** Without a kernel: the same views on a stand-in for the widget's model. */
export function mountStatic(el, spec) {
  const values = { spec, z: [] };
  const model = {
    get: (key) => values[key],
    set: (key, value) => {
      values[key] = value;
    },
    save_changes() {},
    on() {},
    off() {},
  };
  return render({ model, el });
}
