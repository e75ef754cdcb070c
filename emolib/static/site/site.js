// The static demo page: the webcam and photo uploads, labelled in the browser by pipeline.js.
// Nothing is sent anywhere: the page fetches only its own files, once, while it loads.
import { Pipeline, Tracker, rgbaToRgb } from "./pipeline.js";

const ACCEPTED = "JPEG, PNG or WebP";
const $ = (id) => document.getElementById(id);
const status = $("status");
const state = { pipeline: null, stream: null, running: false, photo: null, emoji: {} };
// For tests and the benchmark: the pipeline and the latest results (boxes in the photo's own pixels).
window.emoSite = { ready: null, readyMs: null, photoResults: null, liveResults: null, frames: 0, firstResultMs: null, fps: 0,
  detectedFps: 0 };

function say(text, error = false) {
  status.textContent = text;
  status.classList.toggle("error", error);
}

const percent = (p) => `${Math.round(100 * p)}%`;

/** One face's result as a list item: emoji (with alt text), label, and every class's probability. */
function resultItem(r, i) {
  const li = document.createElement("li");
  const img = document.createElement("img");
  img.src = state.emoji[r.label].src;
  img.alt = `${r.label} emoji`;
  const head = document.createElement("strong");
  head.textContent = ` Face ${i + 1}: ${r.label} ${percent(r.score)}`;
  const table = document.createElement("table");
  for (const [name, p] of Object.entries(r.probabilities)) {
    const row = table.insertRow();
    row.insertCell().textContent = name;
    const meter = document.createElement("meter");
    meter.min = 0;
    meter.max = 1;
    meter.value = p;
    meter.setAttribute("aria-label", `${name} ${percent(p)}`);
    row.insertCell().append(meter);
    row.insertCell().textContent = percent(p);
  }
  li.append(img, head, table);
  return li;
}

function summary(results) {
  if (!results.length) return "No face found.";
  return `${results.length} face(s): ` + results.map((r, i) => `face ${i + 1} ${r.label} ${percent(r.score)}`).join(", ");
}

function showResults(list, results) {
  list.replaceChildren(...results.map(resultItem));
}

/** Boxes, emoji and labels over `ctx`, for results in pixels of the canvas times `scale`. */
function drawResults(ctx, results, scale = 1) {
  for (const r of results) {
    const [x, y, w, h] = r.box.map((v) => v * scale);
    const line = Math.max(2, Math.round(w / 40));
    ctx.lineWidth = line;
    ctx.strokeStyle = "#ffd400";
    ctx.strokeRect(x, y, w, h);
    const fs = Math.max(10, Math.round(w / 6));
    ctx.font = `bold ${fs}px "DejaVu Sans", sans-serif`;
    const text = `${r.label} ${percent(r.score)}`;
    const tw = ctx.measureText(text).width + fs * 1.3;
    const ty = y >= fs * 1.4 ? y - fs * 1.4 : y + h;
    ctx.fillStyle = "rgba(0, 0, 0, 0.7)";
    ctx.fillRect(x, ty, tw, fs * 1.4);
    const em = state.emoji[r.label];
    if (em && em.complete) ctx.drawImage(em, x + 2, ty + fs * 0.1, fs * 1.2, fs * 1.2);
    ctx.fillStyle = "#fff";
    ctx.fillText(text, x + fs * 1.3, ty + fs * 1.1);
  }
}

// --------------------------------------------------------------------------------------------- photos
/** The file's kind from its first bytes (the browser's type is only its name's extension). */
function sniff(head) {
  const b = new Uint8Array(head);
  const ascii = (i, n) => String.fromCharCode(...b.subarray(i, i + n));
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpeg";
  if (ascii(1, 3) === "PNG") return "png";
  if (ascii(0, 4) === "RIFF" && ascii(8, 4) === "WEBP") return "webp";
  return null;
}

/** Width and height from the header (without decoding the pixels), or null where it cannot be read. */
function headerSize(kind, buf) {
  const v = new DataView(buf);
  if (kind === "png" && buf.byteLength >= 24) return [v.getUint32(16), v.getUint32(20)];
  if (kind === "webp" && buf.byteLength >= 30) {
    const chunk = String.fromCharCode(...new Uint8Array(buf, 12, 4));
    if (chunk === "VP8X") return [1 + (v.getUint32(24, true) & 0xffffff), 1 + (v.getUint32(27, true) & 0xffffff)];
    if (chunk === "VP8L") {
      const bits = v.getUint32(21, true);
      return [1 + (bits & 0x3fff), 1 + ((bits >> 14) & 0x3fff)];
    }
    if (chunk === "VP8 ") return [v.getUint16(26, true) & 0x3fff, v.getUint16(28, true) & 0x3fff];
  }
  if (kind === "jpeg") {
    let i = 2;
    while (i + 9 < buf.byteLength) {
      if (v.getUint8(i) !== 0xff) return null;
      const marker = v.getUint8(i + 1);
      if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
        return [v.getUint16(i + 7), v.getUint16(i + 5)];
      }
      i += 2 + v.getUint16(i + 2);
    }
  }
  return null;
}

async function labelPhoto(file) {
  const name = file.name || "the file";
  if (file.size === 0) throw new Error(`${name} is empty (0 bytes): choose a ${ACCEPTED} photo.`);
  const head = await file.slice(0, 256 * 1024).arrayBuffer();
  const kind = sniff(head);
  if (!kind) throw new Error(`${name} is not a ${ACCEPTED} image: the page accepts JPEG, PNG and WebP photos.`);
  const size = headerSize(kind, head);
  const maxPixels = state.pipeline.cfg.max_pixels;
  if (size && size[0] * size[1] > maxPixels) {
    throw new Error(`${name} is too large: ${size[0]}x${size[1]} pixels (${Math.round(size[0] * size[1] / 1e6)} MP); `
      + `the limit is ${maxPixels / 1e6} MP.`);
  }
  say(`Reading ${name}…`);
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image", colorSpaceConversion: "none" });
  } catch {
    throw new Error(`${name} cannot be read: a damaged or truncated ${kind.toUpperCase()} image.`);
  }
  const [W, H] = [bitmap.width, bitmap.height];
  if (W * H > maxPixels) {
    bitmap.close();
    throw new Error(`${name} is too large: ${W}x${H} pixels; the limit is ${maxPixels / 1e6} MP.`);
  }
  const maxSide = state.pipeline.cfg.max_side;
  const s = Math.min(1, maxSide / Math.max(W, H));   // big photos: a working copy, boxes scaled back
  const [w, h] = [Math.max(1, Math.round(W * s)), Math.max(1, Math.round(H * s))];
  if (s < 1) {
    bitmap.close();
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image", colorSpaceConversion: "none",
      resizeWidth: w, resizeHeight: h, resizeQuality: "high" });
  }
  const canvas = $("annotated");
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  say(`Looking for faces in ${name}…`);
  const rgb = rgbaToRgb(ctx.getImageData(0, 0, w, h).data);
  const found = await state.pipeline.predict(rgb, w, h);
  drawResults(ctx, found);
  const [fx, fy] = [W / w, H / h];    // emolib.images.scale_results: boxes in the photo's own pixels
  const results = found.map((r) => {
    const [x, y, bw, bh] = r.box;
    const [x0, y0] = [Math.round(x * fx), Math.round(y * fy)];
    const [x1, y1] = [Math.min(W, Math.round((x + bw) * fx)), Math.min(H, Math.round((y + bh) * fy))];
    return { ...r, box: [x0, y0, Math.max(1, x1 - x0), Math.max(1, y1 - y0)] };
  });
  $("photo-view").hidden = false;
  canvas.setAttribute("aria-label", `${name}, annotated: ${summary(results)}`);
  showResults($("photo-results"), results);
  state.photo = name.replace(/\.[^.]*$/, "");
  $("download").disabled = false;
  window.emoSite.photoResults = { name, width: W, height: H, workWidth: w, workHeight: h, results };
  say(`${name} (${W}x${H}): ${summary(results)}`);
}

$("photo").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  event.target.value = "";            // the same file again is a new choice
  if (!file) return;
  try {
    await labelPhoto(file);
  } catch (err) {
    window.emoSite.photoResults = { error: err.message };
    say(err.message, true);
  }
});

$("download").addEventListener("click", () => {
  $("annotated").toBlob((blob) => {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `${state.photo || "photo"}_emotions.png`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }, "image/png");
});

// --------------------------------------------------------------------------------------------- webcam
function cameraMessage(err) {
  if (err.name === "NotAllowedError" || err.name === "SecurityError") {
    return "Camera permission denied: allow the camera for this page in the browser's settings, or choose a photo.";
  }
  if (err.name === "NotFoundError" || err.name === "OverconstrainedError" || err.name === "DevicesNotFoundError") {
    return "No camera found: connect a camera, or choose a photo.";
  }
  if (err.name === "NotReadableError") return "The camera is busy in another program: close it there, or choose a photo.";
  return `The camera could not start (${err.name}: ${err.message}); you can still choose a photo.`;
}

async function startCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    say("No camera available: the browser allows the camera only on https:// pages or localhost. Choose a photo.", true);
    return;
  }
  say("Starting the webcam…");
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  } catch (err) {
    say(cameraMessage(err), true);
    return;
  }
  const video = $("video");
  video.srcObject = state.stream;
  await video.play();
  $("camera-view").hidden = false;
  $("camera").textContent = "Stop webcam";
  state.running = true;
  say("Webcam on: the faces are labelled in this browser.");
  cameraLoop();
}

function stopCamera() {
  state.running = false;
  if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
  state.stream = null;
  $("camera").textContent = "Start webcam";
  $("fps").textContent = "";
  $("camera-view").hidden = true;
  say("Webcam off.");
}

async function cameraLoop() {
  const video = $("video");
  const overlay = $("overlay");
  const work = document.createElement("canvas");
  const wctx = work.getContext("2d", { willReadFrequently: true });
  const times = [];
  const detected = [];
  const tracker = new Tracker(state.pipeline, state.pipeline.liveViews, state.pipeline.cfg.reclassify);
  let listed = 0;
  while (state.running) {
    const [w, h] = [video.videoWidth, video.videoHeight];
    if (!w || !h) {
      await new Promise((r) => setTimeout(r, 30));
      continue;
    }
    if (work.width !== w || work.height !== h) {
      [work.width, work.height, overlay.width, overlay.height] = [w, h, w, h];
    }
    let results;
    if (window.emoSite.frames % state.pipeline.cfg.detect_every === 0) {
      detected.push(performance.now());
      wctx.drawImage(video, 0, 0, w, h);
      results = await tracker.update(rgbaToRgb(wctx.getImageData(0, 0, w, h).data), w, h);
    } else {
      results = tracker.coast();
      await new Promise((r) => requestAnimationFrame(r));  // the next video frame
    }
    if (!state.running) break;
    const octx = overlay.getContext("2d");
    octx.clearRect(0, 0, w, h);
    drawResults(octx, results);
    overlay.setAttribute("aria-label", `Webcam: ${summary(results)}`);
    if (performance.now() - listed > 500) {   // the list with every probability: twice a second is enough
      showResults($("live-results"), results);
      listed = performance.now();
    }
    const now = performance.now();
    times.push(now);
    while (times.length && now - times[0] > 3000) times.shift();
    while (detected.length && now - detected[0] > 3000) detected.shift();
    const site = window.emoSite;
    site.frames += 1;
    site.liveResults = results;
    if (site.firstResultMs === null && results.length) site.firstResultMs = now;
    if (times.length > 1) {
      site.fps = (1000 * (times.length - 1)) / (now - times[0]);
      site.detectedFps = detected.length > 1 ? (1000 * (detected.length - 1)) / (detected.at(-1) - detected[0]) : 0;
      $("fps").textContent = `${site.fps.toFixed(1)} fps`;
    }
    await new Promise((r) => setTimeout(r, 0));   // let the page handle clicks between frames
  }
}

$("camera").addEventListener("click", () => (state.running ? stopCamera() : startCamera()));

// --------------------------------------------------------------------------------------------- start
window.emoSite.ready = (async () => {
  try {
    state.pipeline = await Pipeline.load();
  } catch (err) {
    say(`The networks could not be loaded (${err.message}); reload the page.`, true);
    throw err;
  }
  await Promise.all(state.pipeline.cfg.classes.map(async (c) => {   // kept as blob: URLs: showing one fetches nothing
    const blob = await (await fetch(`emoji/${c}.png`)).blob();
    state.emoji[c] = new Image();
    state.emoji[c].src = URL.createObjectURL(blob);
  }));
  window.emoSite.webcamViews = await state.pipeline.webcamViews();
  window.emoSite.pipeline = state.pipeline;
  $("camera").disabled = false;
  $("photo").disabled = false;
  window.emoSite.readyMs = performance.now();
  say(`Ready: start the webcam or choose a ${ACCEPTED} photo.`);
  return true;
})();
