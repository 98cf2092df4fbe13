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
//
// A convolution right after a nearest upsampling reads the smaller input directly (``from``:
// each upsampled row and column -> the row and column it copies). Kernel positions that land
// on copies of the same input pixel then share one multiply: their weights are summed once,
// here, which cuts a 3 x 3 kernel after a 2x upsampling from 9 reads per output pixel to 4.
function convolution(layer, transposed, from = null) {
  const [cin, h, wd] = layer.in_shape;
  const [cout, oh, ow] = layer.out_shape;
  const k = layer.kernel_size;
  const s = layer.stride;
  const p = layer.padding;
  const w = reorder(floats(layer.weight), cin, cout, k, transposed);
  const b = floats(layer.bias);
  const identity = (n) => Int32Array.from({ length: n }, (_, i) => i);
  const srcRows = from ? from.rows : identity(h);
  const srcCols = from ? from.cols : identity(wd);
  const srcWidth = from ? from.width : wd;
  const source = (o, kk, size) => {
    if (!transposed) {
      const i = o * s - p + kk;
      return i >= 0 && i < size ? i : -1;
    }
    const t = o + p - kk;
    if (t < 0 || t % s !== 0) return -1;
    return t / s < size ? t / s : -1;
  };
  // For every output row (column): the input rows it reads, each with the set of kernel rows
  // that read it (an id into `kernels`). Flat arrays: entries starts[o] .. starts[o + 1] - 1.
  function taps(outSize, inSize, src) {
    const ids = new Map();
    const kernels = [];
    const starts = [0];
    const index = [];
    const kernel = [];
    for (let o = 0; o < outSize; o++) {
      const groups = new Map();
      for (let kk = 0; kk < k; kk++) {
        const i = source(o, kk, inSize);
        if (i < 0) continue;
        if (!groups.has(src[i])) groups.set(src[i], []);
        groups.get(src[i]).push(kk);
      }
      for (const [i, offsets] of groups) {
        const name = offsets.join(",");
        if (!ids.has(name)) {
          ids.set(name, kernels.length);
          kernels.push(offsets);
        }
        index.push(i);
        kernel.push(ids.get(name));
      }
      starts.push(index.length);
    }
    return { starts: Int32Array.from(starts), index: Int32Array.from(index), kernel: Int32Array.from(kernel), kernels };
  }
  const rows = taps(oh, h, srcRows);
  const cols = taps(ow, wd, srcCols);
  // One (cout, cin) block of weights per (kernel-row set, kernel-column set): the sum over them.
  const blocks = rows.kernels.map((kys) =>
    cols.kernels.map((kxs) => {
      const block = new Float32Array(cout * cin);
      for (const ky of kys)
        for (const kx of kxs) {
          const base = (ky * k + kx) * cout * cin;
          for (let j = 0; j < cout * cin; j++) block[j] += w[base + j];
        }
      return block;
    }));
  return (x, y) => {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const yo = (oy * ow + ox) * cout;
        for (let o = 0; o < cout; o++) y[yo + o] = b[o];
        for (let r = rows.starts[oy]; r < rows.starts[oy + 1]; r++) {
          const blockRow = blocks[rows.kernel[r]];
          const rowStart = rows.index[r] * srcWidth;
          for (let c = cols.starts[ox]; c < cols.starts[ox + 1]; c++) {
            const block = blockRow[cols.kernel[c]];
            const xi = (rowStart + cols.index[c]) * cin;
            for (let o = 0; o < cout; o++) y[yo + o] += dot(x, xi, block, o * cin, cin);
          }
        }
      }
    }
  };
}

const convTranspose = (layer) => convolution(layer, true);
const conv = (layer, from) => convolution(layer, false, from);

// PyTorch's "nearest": source index floor(dst * in / out), the scale in float32.
function nearest(inSize, outSize) {
  const scale = Math.fround(inSize / outSize);
  return Int32Array.from({ length: outSize }, (_, i) =>
    Math.min(Math.floor(Math.fround(i * scale)), inSize - 1));
}

function upsampleNearest(layer) {
  const [c, h, wd] = layer.in_shape;
  const [, oh, ow] = layer.out_shape;
  const rows = nearest(h, oh);
  const cols = nearest(wd, ow);
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
  const steps = [];
  const layers = spec.layers;
  for (let n = 0; n < layers.length; n++) {
    const layer = layers[n];
    const make = LAYERS[layer.kind];
    if (!make) throw new Error(`vaelab.explore: unknown layer kind ${layer.kind}`);
    if (layer.kind === "upsample_nearest" && layers[n + 1]?.kind === "conv") {
      // The convolution reads the input before the upsampling: no copy, fewer multiplies.
      const [, h, w] = layer.in_shape;
      const [, oh, ow] = layer.out_shape;
      const from = { rows: nearest(h, oh), cols: nearest(w, ow), width: w };
      const next = layers[++n];
      steps.push({ run: conv(next, from), out: new Float32Array(next.size) });
      continue;
    }
    steps.push({ run: make(layer), out: new Float32Array(layer.size) });
  }
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
