// The decoder in the browser: the layers vaelab.explore exported from the PyTorch model, run
// as plain loops over Float32Arrays. No runtime to download; one decode of the MLP decoder is
// two matrix-vector products.
//
// Activations between layers are kept channels-last, (H, W, C), so that the innermost loop of
// every convolution runs over contiguous channels of both the weights and the output.

/** Decode base64 text into a Float32Array (little-endian float32, as numpy writes it). */
export function floats(base64) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return new Float32Array(bytes.buffer);
}

/** Decode base64 text into a Uint8Array. */
export function bytes(base64) {
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

// Weights reordered to (ky, kx, cout, cin): the innermost loop of both convolutions is then a
// dot product over input channels, contiguous in the weights and in the (H, W, C) input.
function reorder(w, cin, cout, k, transposed) {
  const out = new Float32Array(w.length);
  for (let o = 0; o < cout; o++)
    for (let i = 0; i < cin; i++)
      for (let y = 0; y < k; y++)
        for (let x = 0; x < k; x++) {
          // PyTorch: Conv2d (cout, cin, ky, kx); ConvTranspose2d (cin, cout, ky, kx)
          const from = transposed ? ((i * cout + o) * k + y) * k + x : ((o * cin + i) * k + y) * k + x;
          out[((y * k + x) * cout + o) * cin + i] = w[from];
        }
  return out;
}

function dot(x, xi, w, wi, n) {
  let acc = 0;
  let i = 0;
  for (; i + 3 < n; i += 4)
    acc += x[xi + i] * w[wi + i] + x[xi + i + 1] * w[wi + i + 1] + x[xi + i + 2] * w[wi + i + 2] + x[xi + i + 3] * w[wi + i + 3];
  for (; i < n; i++) acc += x[xi + i] * w[wi + i];
  return acc;
}

// One function per layer kind: (input, output) -> void, on preallocated arrays.
function linear(layer) {
  const w = floats(layer.weight);
  const b = floats(layer.bias);
  const n = layer.in_features;
  const m = layer.out_features;
  return (x, y) => {
    for (let o = 0; o < m; o++) y[o] = dot(x, 0, w, o * n, n) + b[o];
  };
}

// Conv2d and ConvTranspose2d as one gather loop: for each output pixel, the input pixels its
// kernel positions read. A transposed convolution reads input (oy + p - ky) / s where that is a
// whole number; a convolution reads oy * s - p + ky.
function convolution(layer, transposed) {
  const [cin, h, wd] = layer.in_shape;
  const [cout, oh, ow] = layer.out_shape;
  const k = layer.kernel_size;
  const s = layer.stride;
  const p = layer.padding;
  const w = reorder(floats(layer.weight), cin, cout, k, transposed);
  const b = floats(layer.bias);
  const source = (o, kk, size) => {
    if (!transposed) {
      const i = o * s - p + kk;
      return i >= 0 && i < size ? i : -1;
    }
    const t = o + p - kk;
    if (t < 0 || t % s !== 0) return -1;
    return t / s < size ? t / s : -1;
  };
  // For every output row (column): the (kernel offset, input row) pairs that reach it.
  const taps = (outSize, inSize) =>
    Array.from({ length: outSize }, (_, o) =>
      Array.from({ length: k }, (_, kk) => [kk, source(o, kk, inSize)]).filter(([, i]) => i >= 0));
  const rows = taps(oh, h);
  const cols = taps(ow, wd);
  return (x, y) => {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const yo = (oy * ow + ox) * cout;
        for (let o = 0; o < cout; o++) y[yo + o] = b[o];
        for (const [ky, iy] of rows[oy]) {
          for (const [kx, ix] of cols[ox]) {
            const xi = (iy * wd + ix) * cin;
            const wk = (ky * k + kx) * cout;
            for (let o = 0; o < cout; o++) y[yo + o] += dot(x, xi, w, (wk + o) * cin, cin);
          }
        }
      }
    }
  };
}

const convTranspose = (layer) => convolution(layer, true);
const conv = (layer) => convolution(layer, false);

function upsampleNearest(layer) {
  const [c, h, wd] = layer.in_shape;
  const [, oh, ow] = layer.out_shape;
  // PyTorch's "nearest": source index floor(dst * in / out), the scale in float32.
  const sy = Math.fround(h / oh);
  const sx = Math.fround(wd / ow);
  const rows = Int32Array.from({ length: oh }, (_, i) => Math.min(Math.floor(Math.fround(i * sy)), h - 1));
  const cols = Int32Array.from({ length: ow }, (_, i) => Math.min(Math.floor(Math.fround(i * sx)), wd - 1));
  return (x, y) => {
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++) {
        const from = (rows[oy] * wd + cols[ox]) * c;
        y.set(x.subarray(from, from + c), (oy * ow + ox) * c);
      }
  };
}

function elementwise(f) {
  return () => (x, y) => {
    for (let i = 0; i < x.length; i++) y[i] = f(x[i]);
  };
}

// (C, H, W) in the order PyTorch's Unflatten gives -> (H, W, C), the order used here.
function toChannelsLast(layer) {
  const [c, h, w] = layer.shape;
  return () => (x, y) => {
    for (let i = 0; i < c; i++)
      for (let q = 0; q < h * w; q++) y[q * c + i] = x[i * h * w + q];
  };
}

const LAYERS = {
  linear,
  conv_transpose: convTranspose,
  conv,
  upsample_nearest: upsampleNearest,
  relu: elementwise((v) => (v > 0 ? v : 0)),
  tanh: elementwise(Math.tanh),
  sigmoid: elementwise((v) => 1 / (1 + Math.exp(-v))),
  unflatten: (layer) => toChannelsLast(layer)(),
};

/**
 * Build the decoder from the spec vaelab.explore wrote: { latent_dim, image_shape: [C, H, W],
 * layers: [{ kind, ..., size }] }. Returns decode(z) -> Float32Array of C*H*W pixel
 * intensities in [0, 1] (the Bernoulli means: sigmoid of the logits), in (C, H, W) order.
 */
export function makeDecoder(spec) {
  const steps = spec.layers.map((layer) => {
    const make = LAYERS[layer.kind];
    if (!make) throw new Error(`vaelab.explore: unknown layer kind ${layer.kind}`);
    return { run: make(layer), out: new Float32Array(layer.size) };
  });
  const [c, h, w] = spec.image_shape;
  const pixels = new Float32Array(c * h * w);
  const code = new Float32Array(spec.latent_dim);
  // Channels-last at the end unless the last layer was linear (then (C, H, W) already).
  const channelsLast = spec.layers.some((layer) => layer.kind === "unflatten");
  function decode(z) {
    code.set(z);
    let x = code;
    for (const step of steps) {
      step.run(x, step.out);
      x = step.out;
    }
    for (let i = 0; i < c; i++)
      for (let q = 0; q < h * w; q++) {
        const logit = channelsLast ? x[q * c + i] : x[i * h * w + q];
        pixels[i * h * w + q] = 1 / (1 + Math.exp(-logit));
      }
    return pixels;
  }
  return { decode, latentDim: spec.latent_dim, imageShape: spec.image_shape };
}
