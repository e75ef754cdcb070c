// The browser's copy of emolib's photo pipeline (emolib/faces.py, emolib/predict.py), run with LiteRT.js:
// BlazeFace (full range) over the letterboxed image and, for small faces, over overlapping tiles; the
// detections merged by weighted non-maximum suppression; each face cut out as FER2013 frames it (grayscale,
// 48x48), and each face classified by the shipped int8 network (emonet_1view.tflite) averaged over its
// test-time views, made here as emolib.predict.make_views makes them (6 for photos).
// Resizing copies OpenCV's INTER_AREA (shrinking) and INTER_LINEAR (enlarging), rounding copies Python's,
// and the gray conversion copies OpenCV's fixed-point one, so that the browser gives Python's answers.
// Nothing here sends anything anywhere: the model files come from the page's own folder.
import { loadLiteRt, loadAndCompile, Tensor } from "@litertjs/core";

/** Python's round(): halves to even. */
export function pyRound(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Source weights along one axis, from n to m samples, as flat arrays: output d reads `count[d]` source
 * indices `index[first[d] + k]` with weights `weight[first[d] + k]`. Shrinking: OpenCV's INTER_AREA (each
 * source pixel weighted by how much of it the output pixel covers); enlarging: INTER_LINEAR (half-pixel
 * centres, edges clamped).
 */
function axisTable(n, m, shrink) {
  const scale = n / m;
  const index = [];
  const weight = [];
  const first = new Int32Array(m);
  const count = new Int32Array(m);
  for (let d = 0; d < m; d++) {
    first[d] = index.length;
    if (shrink) {
      const f0 = d * scale;
      const f1 = f0 + scale;
      for (let s = Math.floor(f0); s < Math.min(n, Math.ceil(f1)); s++) {
        const w = Math.min(f1, s + 1) - Math.max(f0, s);
        if (w > 1e-9) {
          index.push(s);
          weight.push(w / scale);
        }
      }
    } else {
      const f = (d + 0.5) * scale - 0.5;
      let s = Math.floor(f);
      let a = f - s;
      if (s < 0) [s, a] = [0, 0];
      if (s >= n - 1) [s, a] = [n - 1, 0];
      index.push(s);
      weight.push(1 - a);
      if (a > 0) {
        index.push(s + 1);
        weight.push(a);
      }
    }
    count[d] = index.length - first[d];
  }
  return { index: Int32Array.from(index), weight: Float32Array.from(weight), first, count };
}

/**
 * Resize a uint8 image of `channels` channels (`src` w x h, rows packed) to nw x nh like cv2.resize with
 * INTER_AREA (shrinking) or INTER_LINEAR (enlarging); returns a Uint8ClampedArray.
 */
export function resize(src, w, h, channels, nw, nh) {
  const shrink = nw < w || nh < h;
  const tx = axisTable(w, nw, shrink);
  const ty = axisTable(h, nh, shrink);
  const rows = new Float32Array(h * nw * channels);          // horizontal pass
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < nw; x++) {
      const f = tx.first[x];
      const o = (y * nw + x) * channels;
      for (let k = 0; k < tx.count[x]; k++) {
        const i = (row + tx.index[f + k]) * channels;
        const wt = tx.weight[f + k];
        for (let c = 0; c < channels; c++) rows[o + c] += wt * src[i + c];
      }
    }
  }
  const acc = new Float32Array(nw * channels);
  const out = new Uint8ClampedArray(nw * nh * channels);     // vertical pass, rounded as cv2 saturates
  for (let y = 0; y < nh; y++) {
    acc.fill(0);
    const f = ty.first[y];
    for (let k = 0; k < ty.count[y]; k++) {
      const base = ty.index[f + k] * nw * channels;
      const wt = ty.weight[f + k];
      for (let j = 0; j < acc.length; j++) acc[j] += wt * rows[base + j];
    }
    out.set(acc, y * nw * channels);   // Uint8ClampedArray rounds half to even, as cv2's saturate_cast
  }
  return out;
}

/** RGB (3 channels) from canvas RGBA pixels. */
export function rgbaToRgb(rgba) {
  const n = rgba.length / 4;
  const out = new Uint8ClampedArray(n * 3);
  for (let i = 0; i < n; i++) {
    out[3 * i] = rgba[4 * i];
    out[3 * i + 1] = rgba[4 * i + 1];
    out[3 * i + 2] = rgba[4 * i + 2];
  }
  return out;
}

/** cv2.COLOR_RGB2GRAY for uint8 (fixed point, 14 bits). */
export function rgbToGray(rgb) {
  const n = rgb.length / 3;
  const out = new Uint8ClampedArray(n);
  for (let i = 0; i < n; i++) {
    out[i] = (rgb[3 * i] * 4899 + rgb[3 * i + 1] * 9617 + rgb[3 * i + 2] * 1868 + 8192) >> 14;
  }
  return out;
}

function anchors(size, stride) {
  const cells = size / stride;
  const out = new Float32Array(cells * cells * 2);
  for (let y = 0; y < cells; y++) {
    for (let x = 0; x < cells; x++) {
      out[2 * (y * cells + x)] = ((x + 0.5) / cells) * size;
      out[2 * (y * cells + x) + 1] = ((y + 0.5) / cells) * size;
    }
  }
  return out;
}

/** Tile offsets along one side (emolib.faces._starts). */
function starts(length, size, stride) {
  if (length <= size) return [0];
  const n = Math.ceil((length - size) / stride) + 1;
  return Array.from({ length: n }, (_, i) => pyRound((i * (length - size)) / (n - 1)));
}

/** emolib.faces.tile_levels: [[scale, [[x, y], ...]], ...]. */
export function tileLevels(w, h, minFace, d) {
  const size = d.size;
  const fullScale = size / Math.max(w, h);
  let scale = d.tile_face_min / minFace;
  const levels = [];
  while ((scale * d.full_pass_min) / d.tile_face_min > fullScale * 1.001) {
    const lw = Math.max(1, pyRound(w * scale));
    const lh = Math.max(1, pyRound(h * scale));
    const stride = size - d.tile_face_max;
    const tiles = [];
    for (const y of starts(lh, size, stride)) for (const x of starts(lw, size, stride)) tiles.push([x, y]);
    levels.push([scale, tiles]);
    scale /= 2;
  }
  return levels;
}

/** MediaPipe-style weighted non-maximum suppression (emolib.faces._weighted_nms); boxes [x, y, w, h]. */
function weightedNms(found, iou, w, h) {
  const xyxy = found.map((f) => [f.cx - f.w / 2, f.cy - f.h / 2, f.cx + f.w / 2, f.cy + f.h / 2]);
  const area = xyxy.map((b) => (b[2] - b[0]) * (b[3] - b[1]));
  let order = found.map((_, i) => i).sort((a, b) => found[b].score - found[a].score);
  const out = [];
  while (order.length) {
    const i = order[0];
    const group = order.filter((k) => {
      const iw = Math.max(0, Math.min(xyxy[i][2], xyxy[k][2]) - Math.max(xyxy[i][0], xyxy[k][0]));
      const ih = Math.max(0, Math.min(xyxy[i][3], xyxy[k][3]) - Math.max(xyxy[i][1], xyxy[k][1]));
      const inter = iw * ih;
      return inter / (area[i] + area[k] - inter + 1e-9) > iou;
    });
    let total = 0;
    const box = [0, 0, 0, 0];
    for (const k of group) {
      total += found[k].score;
      for (let j = 0; j < 4; j++) box[j] += xyxy[k][j] * found[k].score;
    }
    const [x0, y0] = [Math.max(0, pyRound(box[0] / total)), Math.max(0, pyRound(box[1] / total))];
    const [x1, y1] = [Math.min(w, pyRound(box[2] / total)), Math.min(h, pyRound(box[3] / total))];
    if (x1 - x0 >= 4 && y1 - y0 >= 4) out.push({ box: [x0, y0, x1 - x0, y1 - y0], score: found[i].score });
    const taken = new Set(group);
    order = order.filter((k) => !taken.has(k));
  }
  return out.sort((a, b) => a.box[0] - b.box[0] || a.box[1] - b.box[1]);
}

/** emolib.faces.face_square: the square [x, y, side, side] cut for a detector box. */
export function faceSquare(box, scale, shiftY) {
  const [x, y, w, h] = box;
  const side = Math.max(w, h) * scale;
  const cx = x + w / 2;
  const cy = y + h / 2 + shiftY * Math.max(w, h);
  return [pyRound(cx - side / 2), pyRound(cy - side / 2), pyRound(side), pyRound(side)];
}

/** emolib.faces.crop_face: a 48x48 uint8 face from a grayscale image (edge pixels repeated outside it). */
export function cropFace(gray, w, h, box, cfg) {
  const [sx, sy, s0] = faceSquare(box, cfg.crop_scale, cfg.crop_shift_y);
  const side = Math.max(s0, 1);
  const patch = new Uint8ClampedArray(side * side);
  for (let y = 0; y < side; y++) {
    const yy = Math.min(h - 1, Math.max(0, sy + y));
    for (let x = 0; x < side; x++) patch[y * side + x] = gray[yy * w + Math.min(w - 1, Math.max(0, sx + x))];
  }
  const size = cfg.image_size;
  return side === size ? patch : resize(patch, side, side, 1, size, size);
}

/** The photo pipeline in the browser. `load()` fetches the runtime and the two networks from `base`. */
export class Pipeline {
  constructor(cfg, detector, emotion) {
    this.cfg = cfg;
    this.detector = detector;
    this.emotion = emotion;
    this.anchors = anchors(cfg.detector.size, 4);
  }

  static async load(base = new URL(".", document.baseURI).href) {
    const bytes = async (file) => new Uint8Array(await (await fetch(new URL(file, base))).arrayBuffer());
    const settings = fetch(new URL("config.json", base)).then((r) => r.json());
    const networks = settings.then((c) => Promise.all([bytes(c.detector.file), bytes(c.emotion_model)]));
    // the runtime and the networks' files are fetched side by side
    const [cfg, , files] = await Promise.all([settings, loadLiteRt(new URL("wasm/", base).href), networks]);
    const [detector, emotion] = await Promise.all(files.map((f) => loadAndCompile(f, { accelerator: "wasm" })));
    const pipeline = new Pipeline(cfg, detector, emotion);
    pipeline.base = base;
    return pipeline;
  }

  /** Run one model on float32 data of `shape`; the outputs as Float32Arrays. */
  async run(model, data, shape) {
    const input = new Tensor(data, shape);
    const outputs = await model.run([input]);
    input.delete();
    const arrays = outputs.map((t) => {
      const a = t.toTypedArray().slice();
      t.delete();
      return a;
    });
    return arrays;
  }

  /** Raw detections of one 192x192 canvas (float32 in -1..1): [{cx, cy, w, h, score}] in canvas pixels. */
  async raw(canvas, minScore) {
    const s = this.cfg.detector.size;
    const outs = await this.run(this.detector, canvas, [1, s, s, 3]);
    const n = this.anchors.length / 2;
    const boxes = outs.find((a) => a.length === n * 16);
    const logits = outs.find((a) => a.length === n);
    const found = [];
    for (let i = 0; i < n; i++) {
      const score = 1 / (1 + Math.exp(-Math.min(80, Math.max(-80, logits[i]))));
      if (score < minScore) continue;
      found.push({ cx: boxes[16 * i] + this.anchors[2 * i], cy: boxes[16 * i + 1] + this.anchors[2 * i + 1],
        w: boxes[16 * i + 2], h: boxes[16 * i + 3], score });
    }
    return found;
  }

  /** emolib.faces.FaceDetector.__call__ on an RGB uint8 image: [{box: [x, y, w, h], score}], left to right. */
  async detect(rgb, w, h, minFace = this.cfg.min_face) {
    const d = this.cfg.detector;
    const s = d.size;
    const scale = s / Math.max(w, h);
    const nw = Math.max(1, pyRound(w * scale));
    const nh = Math.max(1, pyRound(h * scale));
    const ox = Math.floor((s - nw) / 2);
    const oy = Math.floor((s - nh) / 2);
    const small = resize(rgb, w, h, 3, nw, nh);
    const canvas = new Float32Array(s * s * 3).fill(-1);
    for (let y = 0; y < nh; y++) {
      for (let x = 0; x < nw * 3; x++) canvas[((y + oy) * s + ox) * 3 + x] = small[y * nw * 3 + x] / 127.5 - 1;
    }
    const found = (await this.raw(canvas, d.min_score)).map((f) => ({
      cx: (f.cx - ox) / scale, cy: (f.cy - oy) / scale, w: f.w / scale, h: f.h / scale, score: f.score }));
    const big = found.some((f) => Math.max(f.w, f.h) >= Math.min(h, w) / d.close_up);
    if (minFace && !big) {
      for (const [lscale, tiles] of tileLevels(w, h, minFace, d)) {
        const lw = Math.max(1, pyRound(w * lscale));
        const lh = Math.max(1, pyRound(h * lscale));
        const level = resize(rgb, w, h, 3, lw, lh);
        for (const [tx, ty] of tiles) {
          const tile = new Float32Array(s * s * 3).fill(-1);
          for (let y = 0; y < Math.min(s, lh - ty); y++) {
            const cols = Math.min(s, lw - tx) * 3;
            for (let x = 0; x < cols; x++) tile[y * s * 3 + x] = level[((ty + y) * lw + tx) * 3 + x] / 127.5 - 1;
          }
          for (const f of await this.raw(tile, Math.max(d.min_score, d.tile_min_score))) {
            const inner = (f.cx - f.w / 2 < 1 && tx > 0) || (f.cy - f.h / 2 < 1 && ty > 0)
              || (f.cx + f.w / 2 > s - 1 && tx + s < lw) || (f.cy + f.h / 2 > s - 1 && ty + s < lh)
              || f.w > d.tile_face_max;
            if (!inner) {
              found.push({ cx: (f.cx + tx) / lscale, cy: (f.cy + ty) / lscale, w: f.w / lscale, h: f.h / lscale,
                score: f.score });
            }
          }
        }
      }
    }
    return found.length ? weightedNms(found, d.iou, w, h) : [];
  }

  /**
   * Class probabilities (one Float32Array of 7 per face) for `n` uint8 48x48 faces packed in `faces`: the
   * network's mean over `views` test-time views (1, 2 or 6), as emolib.predict.LiteRTModel(views=...) gives.
   */
  async classify(faces, n, views = this.cfg.photo_views) {
    const size = this.cfg.image_size;
    const out = [];
    for (let i = 0; i < n; i++) {   // one view per call: LiteRT.js runs a batch of 1
      const sum = new Float32Array(this.cfg.classes.length);
      for (const view of makeViews(faces.subarray(i * size * size, (i + 1) * size * size), size, this.cfg.views[views])) {
        const [p] = await this.run(this.emotion, view, [1, size, size, 1]);
        for (let j = 0; j < sum.length; j++) sum[j] += p[j];
      }
      out.push(sum.map((v) => v / views));
    }
    return out;
  }

  /** emolib.predict.classify_detections: each detection of an RGB image cropped like FER2013 and classified. */
  async classifyDetections(rgb, w, h, dets, views = this.cfg.photo_views) {
    if (!dets.length) return [];
    const gray = rgbToGray(rgb);
    const size = this.cfg.image_size;
    const faces = new Uint8Array(dets.length * size * size);
    dets.forEach((det, i) => faces.set(cropFace(gray, w, h, det.box, this.cfg), i * size * size));
    const probs = await this.classify(faces, dets.length, views);
    const classes = this.cfg.classes;
    return dets.map((det, i) => {
      const p = probs[i];
      let k = 0;
      for (let j = 1; j < p.length; j++) if (p[j] > p[k]) k = j;
      return { box: det.box, detectionScore: det.score, label: classes[k], score: p[k],
        probabilities: Object.fromEntries(classes.map((c, j) => [c, p[j]])) };
    });
  }

  /** emolib.predict.predict_image on an RGB uint8 image: [{box, score, label, probabilities}], left to right. */
  async predict(rgb, w, h, minFace = this.cfg.min_face) {
    return this.classifyDetections(rgb, w, h, await this.detect(rgb, w, h, minFace));
  }

  /**
   * The webcam's test-time views, as emolib.predict.choose_views picks them: the most views (6, 2 or 1) whose
   * time per face, timed here once, stays within `view_budget_ms`; 1 when even that is over.
   */
  async webcamViews() {
    if (this.liveViews) return this.liveViews;
    const size = this.cfg.image_size;
    const face = new Uint8Array(size * size).fill(128);
    this.viewMs = {};
    this.liveViews = 1;
    for (const views of Object.keys(this.cfg.views).map(Number).sort((a, b) => a - b)) {
      let best = Infinity;
      for (let i = 0; i < 3; i++) {
        const t = performance.now();
        await this.classify(face, 1, views);
        best = Math.min(best, performance.now() - t);
      }
      this.viewMs[views] = best;
      if (best > this.cfg.view_budget_ms) break;      // more views take longer still: not timed
      this.liveViews = views;
    }
    return this.liveViews;
  }
}

/**
 * emolib.predict.make_views for one uint8 face: Float32Arrays, the face moved by each [dy, dx] (zeros come in
 * at the edges), then, with `mirror`, the same for its mirror image.
 */
export function makeViews(face, size, [shifts, mirror]) {
  const out = [];
  for (const flip of mirror ? [false, true] : [false]) {
    for (const [dy, dx] of shifts) {
      const view = new Float32Array(size * size);
      for (let y = Math.max(dy, 0); y < size + Math.min(dy, 0); y++) {
        for (let x = Math.max(dx, 0); x < size + Math.min(dx, 0); x++) {
          const sx = x - dx;
          view[y * size + x] = face[(y - dy) * size + (flip ? size - 1 - sx : sx)];
        }
      }
      out.push(view);
    }
  }
  return out;
}

function iou(a, b) {
  const iw = Math.max(0, Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]));
  const ih = Math.max(0, Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]));
  const inter = iw * ih;
  return inter ? inter / (a[2] * a[3] + b[2] * b[3] - inter) : 0;
}

/**
 * The webcam's faces from frame to frame, as emolib.widgets.EmotionDemo._track: found in every detected frame,
 * classified every `reclassify`-th frame (a face overlapping, IoU >= 0.3, one classified fewer frames ago
 * keeps its probabilities with its new box; the others go through the classifier). Between detections,
 * `coast()` moves each face on at its last speed, as emolib.predict.FaceTracker.coast does for
 * predict_video, which detects every DETECT_EVERY-th frame.
 */
export class Tracker {
  constructor(pipeline, views, reclassify) {
    Object.assign(this, { pipeline, views, reclassify, tracked: [] });
  }

  async update(rgb, w, h) {
    const dets = await this.pipeline.detect(rgb, w, h);
    const before = this.tracked;
    let prev = before;
    const out = [];
    const todo = [];
    const best = (list, box) => {
      let match = null;
      for (const p of list) if (match === null || iou(p.result.box, box) > iou(match.result.box, box)) match = p;
      return match !== null && iou(match.result.box, box) >= 0.3 ? match : null;
    };
    for (const d of dets) {
      const match = best(prev, d.box);
      if (match !== null && match.age < this.reclassify - 1) {
        out.push({ result: { ...match.result, box: d.box, detectionScore: d.score }, age: match.age + 1 });
        prev = prev.filter((p) => p !== match);
      } else {
        todo.push(out.length);
        out.push(null);
      }
    }
    const fresh = await this.pipeline.classifyDetections(rgb, w, h, todo.map((i) => dets[i]), this.views);
    todo.forEach((i, k) => { out[i] = { result: fresh[k], age: 0 }; });
    out.forEach((t, i) => {       // where it was seen, and how fast it moves (from its last detection)
      const old = best(before, dets[i].box);
      t.seen = dets[i].box;
      t.since = 0;
      t.velocity = old ? t.seen.map((v, j) => (v - old.seen[j]) / (old.since + 1)) : [0, 0, 0, 0];
    });
    this.tracked = out;
    return out.map((t) => t.result);
  }

  /** The faces of a frame not looked at: each box moved on at its last speed, probabilities kept. */
  coast() {
    return this.tracked.map((t) => {
      t.since += 1;
      t.age += 1;
      const box = t.seen.map((v, j) => pyRound(v + t.velocity[j] * t.since));
      t.result = { ...t.result, box: [box[0], box[1], Math.max(1, box[2]), Math.max(1, box[3])] };
      return t.result;
    });
  }
}
