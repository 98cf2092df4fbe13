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

// Reorder a (A, B, K, K) weight tensor for the loops below.
function convTransposeWeights(w, cin, cout, k) {
  // PyTorch: (cin, cout, ky, kx) -> here (cin, ky, kx, cout)
  const out = new Float32Array(w.length);
  for (let i = 0; i < cin; i++)
    for (let o = 0; o < cout; o++)
      for (let y = 0; y < k; y++)
        for (let x = 0; x < k; x++)
          out[((i * k + y) * k + x) * cout + o] = w[((i * cout + o) * k + y) * k + x];
  return out;
}

function convWeights(w, cin, cout, k) {
  // PyTorch: (cout, cin, ky, kx) -> here (ky, kx, cin, cout)
  const out = new Float32Array(w.length);
  for (let o = 0; o < cout; o++)
    for (let i = 0; i < cin; i++)
      for (let y = 0; y < k; y++)
        for (let x = 0; x < k; x++)
          out[((y * k + x) * cin + i) * cout + o] = w[((o * cin + i) * k + y) * k + x];
  return out;
}

// One function per layer kind: (input, output) -> void, on preallocated arrays.
function linear(layer) {
  const w = floats(layer.weight);
  const b = floats(layer.bias);
  const n = layer.in_features;
  const m = layer.out_features;
  return (x, y) => {
    for (let o = 0; o < m; o++) {
      let acc = 0;
      const row = o * n;
      for (let i = 0; i < n; i++) acc += w[row + i] * x[i];
      y[o] = acc + b[o];
    }
  };
}

function convTranspose(layer) {
  const [cin, h, wd] = layer.in_shape;
  const [cout, oh, ow] = layer.out_shape;
  const k = layer.kernel_size;
  const s = layer.stride;
  const p = layer.padding;
  const w = convTransposeWeights(floats(layer.weight), cin, cout, k);
  const b = floats(layer.bias);
  return (x, y) => {
    for (let q = 0; q < oh * ow; q++) y.set(b, q * cout);
    // Scatter each input value into the outputs its kernel reaches (zeros after a ReLU are
    // skipped: they add nothing).
    for (let iy = 0; iy < h; iy++) {
      for (let ix = 0; ix < wd; ix++) {
        const xi = (iy * wd + ix) * cin;
        for (let ky = 0; ky < k; ky++) {
          const oy = iy * s - p + ky;
          if (oy < 0 || oy >= oh) continue;
          for (let kx = 0; kx < k; kx++) {
            const ox = ix * s - p + kx;
            if (ox < 0 || ox >= ow) continue;
            const yo = (oy * ow + ox) * cout;
            for (let i = 0; i < cin; i++) {
              const v = x[xi + i];
              if (v === 0) continue;
              const wo = ((i * k + ky) * k + kx) * cout;
              for (let o = 0; o < cout; o++) y[yo + o] += v * w[wo + o];
            }
          }
        }
      }
    }
  };
}

function conv(layer) {
  const [cin, h, wd] = layer.in_shape;
  const [cout, oh, ow] = layer.out_shape;
  const k = layer.kernel_size;
  const s = layer.stride;
  const p = layer.padding;
  const w = convWeights(floats(layer.weight), cin, cout, k);
  const b = floats(layer.bias);
  return (x, y) => {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const yo = (oy * ow + ox) * cout;
        y.set(b, yo);
        for (let ky = 0; ky < k; ky++) {
          const iy = oy * s - p + ky;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < k; kx++) {
            const ix = ox * s - p + kx;
            if (ix < 0 || ix >= wd) continue;
            const xi = (iy * wd + ix) * cin;
            const wk = (ky * k + kx) * cin;
            for (let i = 0; i < cin; i++) {
              const v = x[xi + i];
              if (v === 0) continue;
              const wo = (wk + i) * cout;
              for (let o = 0; o < cout; o++) y[yo + o] += v * w[wo + o];
            }
          }
        }
      }
    }
  };
}

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
