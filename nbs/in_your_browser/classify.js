// The model in the browser: classify the photo the reader picks, inside this page, with onnxruntime-web.
// Nothing leaves the page. The photo is read, checked, prepared and classified here, and everything this needs
// (onnxruntime-web's JavaScript and WebAssembly, model.onnx, model.json) sits in this script's own folder of the
// site, where `bearclf docs` puts it (`bearclf.docs.browser_page`): no CDN, no server, no network once loaded.
import * as ort from './ort.wasm.min.mjs';

const here = new URL('./', import.meta.url);
ort.env.wasm.numThreads = 1;         // threads need cross-origin isolation, which a static site (GitHub Pages) lacks
ort.env.wasm.wasmPaths = here.href;  // ort-wasm-simd-threaded.{mjs,wasm} from this folder, never from a CDN

const $ = id => document.getElementById(id);
const status = $('status'), picker = $('photo'), verdict = $('verdict'), table = $('probs'), seen = $('seen');

class BadPhoto extends Error {}  // a file that can't be a photo, with the reason in words, as in `bearclf.photo`

// The model, and its metadata: onnxruntime-web doesn't expose an ONNX model's custom metadata, so `bearclf docs`
// writes the same JSON (the `bearclf` key of model.onnx) beside it as model.json
const loaded = (async () => {
  const reply = await fetch(new URL('model.json', here));
  if (!reply.ok) throw new Error('this build of the site has no model: train one (bearclf train), then build ' +
                                 'the site again (bearclf docs)');
  const meta = await reply.json();
  const session = await ort.InferenceSession.create(new URL('model.onnx', here).href,
                                                    {executionProviders: ['wasm'], graphOptimizationLevel: 'all'});
  return {meta, session};
})();

loaded.then(({meta}) => {
  const name = /[.?!]$/.test(meta.name) ? meta.name : `${meta.name}.`;
  status.textContent = `The model is ready: ${name} ${meta.description || ''}`;
  status.dataset.state = 'ready';
}, e => { status.textContent = `The model could not be loaded: ${e.message}`; status.dataset.state = 'error'; });

// ## Checking the file, before decoding it (as `bearclf.photo.open_photo` does)
// Browsers decode a truncated JPEG without complaint (the missing part comes out grey), and decode any size they
// are given: so the file's structure and its width and height are read from its bytes first.

const u16be = (b, i) => (b[i] << 8) | b[i + 1];
const u32be = (b, i) => ((b[i] << 24) >>> 0) + (b[i + 1] << 16) + (b[i + 2] << 8) + b[i + 3];
const u16le = (b, i) => b[i] | (b[i + 1] << 8);
const u24le = (b, i) => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16);
const u32le = (b, i) => (u24le(b, i) + b[i + 3] * 2 ** 24);
const ascii = (b, i, n) => String.fromCharCode(...b.subarray(i, i + n));
const damaged = why => new BadPhoto(`the image is damaged (${why})`);

function jpegInfo(b) {  // walk the segments to the first scan; its data can't hold FF D9, so the next one ends the image
  let width, height;
  for (let i = 2; i + 4 <= b.length;) {
    if (b[i] !== 0xFF) throw damaged('a JPEG segment starts with no marker');
    const marker = b[i + 1];
    if (marker === 0xFF) { i += 1; continue; }  // fill byte
    if (marker === 0xD8 || marker === 0x01 || (marker >= 0xD0 && marker <= 0xD7)) { i += 2; continue; }
    if (marker === 0xD9) break;
    const length = u16be(b, i + 2);
    if (marker >= 0xC0 && marker <= 0xCF && ![0xC4, 0xC8, 0xCC].includes(marker)) {  // a start of frame
      height = u16be(b, i + 5); width = u16be(b, i + 7);
    }
    if (marker === 0xDA) {
      if (width === undefined) throw damaged('the JPEG has no frame header');
      for (let j = i + 2 + length; j + 1 < b.length; j++) if (b[j] === 0xFF && b[j + 1] === 0xD9) return {width, height};
      throw damaged('the JPEG ends before its end marker: the file is truncated');
    }
    i += 2 + length;
  }
  throw damaged('the JPEG ends before its image data: the file is truncated');
}

function pngInfo(b) {  // walk the chunks: each must fit in the file, up to IEND
  if (b.length < 24 || ascii(b, 12, 4) !== 'IHDR') throw damaged('the PNG has no IHDR chunk');
  for (let i = 8; i + 12 <= b.length;) {
    const end = i + 12 + u32be(b, i);
    if (end > b.length) break;
    if (ascii(b, i + 4, 4) === 'IEND') return {width: u32be(b, 16), height: u32be(b, 20)};
    i = end;
  }
  throw damaged('the PNG ends before its IEND chunk: the file is truncated');
}

function webpInfo(b) {
  if (u32le(b, 4) + 8 > b.length) throw damaged('the WebP file is shorter than its header says: truncated');
  const kind = ascii(b, 12, 4);
  if (kind === 'VP8 ') return {width: u16le(b, 26) & 0x3FFF, height: u16le(b, 28) & 0x3FFF};
  if (kind === 'VP8L') {  // 14 bits of width - 1, then 14 of height - 1
    const bits = u32le(b, 21);
    return {width: (bits & 0x3FFF) + 1, height: ((bits >>> 14) & 0x3FFF) + 1};
  }
  if (kind === 'VP8X') return {width: u24le(b, 24) + 1, height: u24le(b, 27) + 1};
  throw damaged('the WebP file holds no image');
}

function imageInfo(b) {  // `{width, height}` from the header of a JPEG, PNG, GIF, WebP or BMP; else `BadPhoto`
  if (b.length >= 4 && b[0] === 0xFF && b[1] === 0xD8 && b[2] === 0xFF) return jpegInfo(b);
  if (b.length >= 8 && ascii(b, 0, 8) === '\x89PNG\r\n\x1a\n') return pngInfo(b);
  if (b.length >= 10 && /^GIF8[79]a$/.test(ascii(b, 0, 6))) {
    if (b[b.length - 1] !== 0x3B) throw damaged('the GIF ends before its trailer: the file is truncated');
    return {width: u16le(b, 6), height: u16le(b, 8)};
  }
  if (b.length >= 30 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WEBP') return webpInfo(b);
  if (b.length >= 26 && ascii(b, 0, 2) === 'BM') {
    if (u32le(b, 2) > b.length) throw damaged('the BMP file is shorter than its header says: truncated');
    return {width: Math.abs(u32le(b, 18) | 0), height: Math.abs(u32le(b, 22) | 0)};
  }
  if (b.length >= 12 && ascii(b, 4, 4) === 'ftyp' && /^(hei|hev|mif|msf|avi)/.test(ascii(b, 8, 4)))
    throw new BadPhoto("a HEIC/HEIF or AVIF photo, which this page can't read: save it as a JPEG first");
  throw new BadPhoto("not an image (or in a format this page can't read)");
}

const count = n => n.toLocaleString('en-US');

async function openPhoto(file, meta) {  // an upright RGB picture on white, as a canvas, or `BadPhoto` saying why not
  if (file.size === 0) throw new BadPhoto('the file is empty');
  if (file.size > meta.max_bytes) throw new BadPhoto(`the file is larger than ${count(meta.max_bytes)} bytes`);
  const {width, height} = imageInfo(new Uint8Array(await file.arrayBuffer()));
  if (width * height > meta.max_pixels)
    throw new BadPhoto(`too many pixels (${count(width)} x ${count(height)}, over ${count(meta.max_pixels)}): ` +
                       'possibly a decompression bomb');
  let bitmap;
  try { bitmap = await createImageBitmap(file, {imageOrientation: 'from-image'}); }  // EXIF orientation applied
  catch (e) { throw damaged(`the browser could not decode it: ${e.message}`); }
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height), ctx = canvas.getContext('2d');
  ctx.fillStyle = 'white'; ctx.fillRect(0, 0, canvas.width, canvas.height);  // transparency goes on white
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  return ctx.getImageData(0, 0, canvas.width, canvas.height);
}

// ## Preparing the photo as the model.onnx contract says (`bearclf.photo.prepare`)
// PIL's bilinear resize, rewritten: a canvas's own smoothing is not PIL's (it doesn't widen the filter when it
// shrinks), and the model was trained on photos shrunk by PIL. Same weights, same fixed-point rounding.

const BITS = 22;  // PIL's PRECISION_BITS

function weights(inSize, outSize) {  // for each output pixel: its first input pixel and the integer weights
  const scale = inSize / outSize, filterScale = Math.max(scale, 1), support = filterScale;  // bilinear: support 1
  const taps = [];
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const first = Math.max(Math.trunc(center - support + 0.5), 0);
    const last = Math.min(Math.trunc(center + support + 0.5), inSize);
    const w = [];
    for (let i = first; i < last; i++) w.push(Math.max(0, 1 - Math.abs((i - center + 0.5) / filterScale)));
    const total = w.reduce((a, b) => a + b, 0);
    taps.push({first, w: w.map(v => Math.trunc(0.5 + (total ? v / total : 0) * 2 ** BITS))});
  }
  return taps;
}

const clip8 = v => Math.min(255, Math.max(0, Math.floor(v / 2 ** BITS)));

function resize({data, width, height}, outW, outH) {  // RGBA in, RGB out (`Uint8Array`, row by row), horizontal first
  let src = data, stride = 4, w = width;
  if (outW !== width) {
    const across = new Uint8Array(outW * height * 3), taps = weights(width, outW);
    for (let y = 0; y < height; y++) for (let x = 0; x < outW; x++) {
      const {first, w: k} = taps[x];
      for (let c = 0; c < 3; c++) {
        let sum = 2 ** (BITS - 1);
        for (let t = 0; t < k.length; t++) sum += src[(y * width + first + t) * 4 + c] * k[t];
        across[(y * outW + x) * 3 + c] = clip8(sum);
      }
    }
    src = across; stride = 3; w = outW;
  }
  const out = new Uint8Array(outW * outH * 3), taps = outH !== height ? weights(height, outH) : null;
  for (let y = 0; y < outH; y++) for (let x = 0; x < outW; x++) for (let c = 0; c < 3; c++) {
    if (!taps) { out[(y * outW + x) * 3 + c] = src[(y * w + x) * stride + c]; continue; }
    const {first, w: k} = taps[y];
    let sum = 2 ** (BITS - 1);
    for (let t = 0; t < k.length; t++) sum += src[((first + t) * w + x) * stride + c] * k[t];
    out[(y * outW + x) * 3 + c] = clip8(sum);
  }
  return out;
}

function crop(image, left, top, w, h) {  // `{data, width, height}`, RGBA or RGB (`channels`)
  const channels = image.data.length / (image.width * image.height), data = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 4; c++)
    data[(y * w + x) * 4 + c] = c < channels ? image.data[((top + y) * image.width + left + x) * channels + c] : 255;
  return {data, width: w, height: h};
}

function prepare(image, size, minScale) {  // `Uint8Array` of size x size x 3: the photo as the model sees it
  if (minScale >= 1) {  // fastai's validation `Resize(size)`: the centred square, resized
    const side = Math.trunc(Math.min(image.width / size, image.height / size) * size);  // as fastai: at times 1 px short
    const square = crop(image, Math.trunc(0.5 * (image.width - side)), Math.trunc(0.5 * (image.height - side)), side, side);
    return resize(square, size, size);
  }
  // fastai's `RandomResizedCrop(size)` on a validation photo: all of it squished to size + extra, then the centre
  const extra = Math.ceil(size * 0.14 / 8) * 8, big = size + extra;
  const squished = {data: resize(image, big, big), width: big, height: big};
  return crop(squished, extra / 2, extra / 2, size, size).data.filter((_, i) => i % 4 !== 3);
}

// ## Classifying, and saying what the model thinks

const aboutBears = classes => [...classes].sort().join() === 'black,grizzly,teddy';
function labelWords(label, meta) {  // as `bearclf.core.label_words`: 'grizzly bear', 'not a bear', 'five', 'none of these'
  if (label === meta.outside_label) return aboutBears(meta.classes) ? 'not a bear' : 'none of these';
  return aboutBears(meta.classes) ? `${label} bear` : label.replaceAll('_', ' ');
}
const sentence = words => words.slice(0, 1).toUpperCase() + words.slice(1);
const percent = p => `${Math.round(p * 100)}%`;

async function classify(image, {meta, session}) {  // `{label, probability, probs}`, as `bearclf.core.Prediction`
  const feeds = {}, views = {};
  for (const [name, {size, min_scale}] of Object.entries(meta.inputs)) {
    const key = `${size}/${min_scale}`;  // a second input with the same view reuses the first one's pixels
    views[key] = views[key] || prepare(image, size, min_scale);
    feeds[name] = new ort.Tensor('uint8', views[key], [1, size, size, 3]);
  }
  const out = await session.run(feeds);
  const probs = Array.from(out.probs.data), domain = out.domain.data[0], inDomain = Boolean(out.in_domain.data[0]);
  const best = probs.indexOf(Math.max(...probs));
  const [label, probability] = inDomain ? [meta.classes[best], probs[best]] : [meta.outside_label, 1 - domain];
  const size = meta.inputs.photo.size;
  return {label, probability, probs, domain, inDomain, seen: {data: views[`${size}/${meta.inputs.photo.min_scale}`], size}};
}

function show(pred, meta) {
  const said = sentence(labelWords(pred.label, meta));
  const sure = `(${percent(pred.probability)} sure)`;  // the words of the app's verdict (`bearclf.app.verdict`)
  verdict.textContent = pred.label === meta.outside_label ? `${said}, as far as the model can tell ${sure}` : `${said} ${sure}`;
  table.replaceChildren(...meta.classes.map((c, i) => {  // each class's probability, as if the photo were one of them
    const row = document.createElement('tr'), bar = document.createElement('meter');
    bar.value = pred.probs[i];
    row.append(...[sentence(labelWords(c, meta)), bar, `${(pred.probs[i] * 100).toFixed(1)}%`].map(content => {
      const cell = document.createElement('td'); cell.append(content); return cell;
    }));
    return row;
  }));
  const {data, size} = pred.seen, rgba = new Uint8ClampedArray(size * size * 4);
  for (let i = 0; i < size * size; i++) rgba.set([data[3 * i], data[3 * i + 1], data[3 * i + 2], 255], 4 * i);
  seen.width = seen.height = size;
  seen.getContext('2d').putImageData(new ImageData(rgba, size, size), 0, 0);
  seen.hidden = false;
}

picker.addEventListener('change', async () => {
  const file = picker.files[0];
  if (!file) return;
  const started = performance.now();
  verdict.dataset.state = 'working'; verdict.textContent = 'Looking…';
  table.replaceChildren(); seen.hidden = true;
  try {
    const model = await loaded;
    const pred = await classify(await openPhoto(file, model.meta), model);
    show(pred, model.meta);
    Object.assign(verdict.dataset, {probs: JSON.stringify(pred.probs), domain: pred.domain});  // for the tests
    verdict.dataset.state = 'done';
  } catch (e) {
    verdict.textContent = e instanceof BadPhoto ? `Can't use this file: ${e.message}` : `Something went wrong: ${e.message}`;
    verdict.dataset.state = 'error';
  }
  verdict.dataset.ms = Math.round(performance.now() - started);  // for the test's benchmark
});
