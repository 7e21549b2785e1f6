// Reference descriptors of face-api's FaceRecognitionNet, computed by the ORIGINAL JavaScript library:
// writes tests/reference/faceapi_descriptors.safetensors, read by tests/test_faceapi.cpp.
//
// How it was produced (Node 20, no network at run time):
//   tools/fetch_faceapi.sh                       # @vladmandic/face-api 1.7.15 into .cache/ (sha256-checked)
//   node tests/reference/make_faceapi.mjs        # optional argument: the package folder
// The library is dist/face-api.esm.js, which bundles tfjs 4.22.0; it runs on tfjs's pure-JS `cpu` backend
// (no tfjs-node, nothing native). Its weights are the package's model/face_recognition_model-weights_
// manifest.json + .bin, decoded by tfjs's own tf.io.decodeWeights and loaded with loadFromWeightMap.
//
// Inputs (all uint8 RGB, committed, so decoding JPEGs never happens at test time):
//   face_*      150x150 face crops cut from the package's demo/sample*.jpg. The photos are decoded by
//               Debian's python3-pil (/usr/bin/python3); faces are located with face-api's own
//               ssdMobilenetv1 detector (on a 1/3-size copy, for speed), a square 1.1x the box is cut and
//               resized to 150x150 with tf.image.cropAndResize (bilinear), rounded to uint8.
//               face_s1_0 has two more views of the same face (a shifted, larger crop and a mirror image)
//               so same-person distances can be compared with different-person ones.
//   synthetic_* 150x150 patterns: a colour gradient and uniform noise from a fixed-seed generator.
//   odd_*       non-square crops (123x98 and 161x200, H x W) that face-api itself pads to a square and
//               resizes to 150x150 (computeFaceDescriptor on a tensor input -> NetInput.toBatchTensor(150,
//               true)). Both have an odd size difference, so the "round(diff/2) after, the rest before"
//               rule is exercised.
// Tensors, per case <c>: <c>.image u8 (H, W, 3); <c>.descriptor f32 (128), face-api's computeFaceDescriptor;
// for odd_portrait also <c>.net_input f32 (150, 150, 3), face-api's padded and resized network input (before
// mean subtraction). Metadata: one entry per case, a JSON object (source photo, box, size).
//
// Node quirks handled below: the bundle stubs out node's `util` (its node platform would crash), so it is
// imported with process.versions.node hidden, then given a small platform and face-api's node environment.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import util from 'node:util';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const pkg = path.resolve(process.argv[2] ?? path.join(here, '..', '..', '.cache', 'face-api-1.7.15', 'package'));
const out = path.join(here, 'faceapi_descriptors.safetensors');
if (!fs.existsSync(path.join(pkg, 'dist', 'face-api.esm.js'))) {
  console.error(`make_faceapi: ${pkg} is not the face-api package; run tools/fetch_faceapi.sh first`);
  process.exit(1);
}

// ---- face-api on tfjs's cpu backend
const versions = process.versions;
Object.defineProperty(process, 'versions', { value: { ...versions, node: undefined }, configurable: true, writable: true });
const faceapi = await import(path.join(pkg, 'dist', 'face-api.esm.js'));
Object.defineProperty(process, 'versions', { value: versions, configurable: true, writable: true });
const tf = faceapi.tf;
tf.setPlatform('node-shim', {
  fetch: (p, init) => fetch(p, init),
  now: () => performance.now(),
  encode: (s) => new TextEncoder().encode(s),
  decode: (b, enc) => new TextDecoder(enc).decode(b),
  isTypedArray: (a) => util.types.isTypedArray(a),
});
faceapi.env.initialize();
await tf.setBackend('cpu');
await tf.ready();

function weightMap(name) {
  const manifest = JSON.parse(fs.readFileSync(path.join(pkg, 'model', `${name}-weights_manifest.json`), 'utf8'));
  const map = {};
  for (const group of manifest) {
    const bytes = Buffer.concat(group.paths.map((p) => fs.readFileSync(path.join(pkg, 'model', p))));
    Object.assign(map, tf.io.decodeWeights(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length), group.weights));
  }
  return map;
}
faceapi.nets.faceRecognitionNet.loadFromWeightMap(weightMap('face_recognition_model'));
faceapi.nets.ssdMobilenetv1.loadFromWeightMap(weightMap('ssd_mobilenetv1_model'));

// ---- inputs
function decodeJpeg(file) {
  const py = 'import sys\nfrom PIL import Image\nim = Image.open(sys.argv[1]).convert("RGB")\n' +
    'sys.stdout.buffer.write(b"%d %d\\n" % im.size + im.tobytes())';
  const raw = execFileSync('/usr/bin/python3', ['-c', py, file], { maxBuffer: 1 << 26 });
  const nl = raw.indexOf(10);
  const [w, h] = raw.subarray(0, nl).toString().split(' ').map(Number);
  return tf.tensor3d(new Uint8Array(raw.subarray(nl + 1)), [h, w, 3], 'int32');
}

async function detect(image) {  // boxes in full-resolution pixels, best first
  const [h, w] = image.shape;
  const small = tf.image.resizeBilinear(image, [Math.round(h / 3), Math.round(w / 3)]);
  const found = await faceapi.detectAllFaces(small, new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5 }));
  small.dispose();
  return found.sort((a, b) => b.score - a.score).map((d) => ({
    score: d.score, x: d.box.x * 3, y: d.box.y * 3, width: d.box.width * 3, height: d.box.height * 3 }));
}

// A crop of `size` (H, W) centred on the face, `scale` x the box's larger side along the crop's longer side.
function crop(image, box, size, { scale = 1.1, dx = 0, dy = 0 } = {}) {
  const [H, W] = image.shape;
  const long = scale * Math.max(box.width, box.height);
  const ch = size[0] >= size[1] ? long : long * size[0] / size[1];
  const cw = size[1] >= size[0] ? long : long * size[1] / size[0];
  const cy = box.y + box.height / 2 + dy * long, cx = box.x + box.width / 2 + dx * long;
  const [y1, x1, y2, x2] = [cy - ch / 2, cx - cw / 2, cy + ch / 2, cx + cw / 2];
  if (y1 < 0 || x1 < 0 || y2 > H - 1 || x2 > W - 1) throw new Error(`crop ${[y1, x1, y2, x2]} leaves the image`);
  return tf.tidy(() => tf.image.cropAndResize(tf.expandDims(tf.cast(image, 'float32')),
    [[y1 / (H - 1), x1 / (W - 1), y2 / (H - 1), x2 / (W - 1)]], [0], size).squeeze().round().clipByValue(0, 255)
    .cast('int32'));
}

function mulberry32(seed) {
  return () => {
    seed = (seed + 0x6D2B79F5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const cases = [];  // {name, image: int32 tensor (H, W, 3), params}
const photos = {};
for (const i of [1, 2, 3, 4, 5, 6]) {
  const file = path.join(pkg, 'demo', `sample${i}.jpg`);
  const image = decodeJpeg(file);
  photos[i] = { image, faces: await detect(image) };
  console.log(`sample${i}.jpg: ${image.shape[1]}x${image.shape[0]}, ${photos[i].faces.length} faces`);
}
const box = (b) => [b.x, b.y, b.width, b.height].map((v) => Math.round(v * 10) / 10);
const faceCase = (name, photo, face, size, opts = {}, flip = false) => {
  const f = photos[photo].faces[face];
  let image = crop(photos[photo].image, f, size, opts);
  if (flip) image = tf.tidy(() => tf.reverse(image, 1));
  cases.push({ name, image, params: { kind: 'face', source: `demo/sample${photo}.jpg`, face, box: box(f),
    score: Math.round(f.score * 1000) / 1000, crop: { scale: opts.scale ?? 1.1, dx: opts.dx ?? 0, dy: opts.dy ?? 0 },
    mirrored: flip } });
};
faceCase('face_s1_0', 1, 0, [150, 150]);
faceCase('face_s1_0_shifted', 1, 0, [150, 150], { scale: 1.25, dx: 0.06, dy: 0.04 });
faceCase('face_s1_0_mirrored', 1, 0, [150, 150], {}, true);
faceCase('face_s1_1', 1, 1, [150, 150]);
faceCase('face_s1_2', 1, 2, [150, 150]);
faceCase('face_s2_0', 2, 0, [150, 150]);
faceCase('face_s3_0', 3, 0, [150, 150]);
faceCase('face_s4_0', 4, 0, [150, 150]);
faceCase('face_s5_0', 5, 0, [150, 150]);

const gradient = new Int32Array(150 * 150 * 3);
for (let y = 0; y < 150; y++) for (let x = 0; x < 150; x++) {
  const o = (y * 150 + x) * 3;
  gradient[o] = Math.round(x * 255 / 149);
  gradient[o + 1] = Math.round(y * 255 / 149);
  gradient[o + 2] = Math.round((x + y) * 255 / 298);
}
cases.push({ name: 'synthetic_gradient', image: tf.tensor3d(gradient, [150, 150, 3], 'int32'),
  params: { kind: 'synthetic', pattern: 'R = x, G = y, B = (x + y) / 2, scaled to 0..255' } });
const random = mulberry32(20240611);
const noise = Int32Array.from({ length: 150 * 150 * 3 }, () => Math.floor(random() * 256));
cases.push({ name: 'synthetic_noise', image: tf.tensor3d(noise, [150, 150, 3], 'int32'),
  params: { kind: 'synthetic', pattern: 'uniform 0..255, mulberry32 seed 20240611' } });

faceCase('odd_portrait', 6, 0, [123, 98]);
faceCase('odd_landscape', 6, 1, [161, 200], { scale: 1.5 });

// ---- face-api's outputs
const tensors = [];  // [name, dtype, shape, bytes]
const metadata = {};
for (const c of cases) {
  const [h, w] = c.image.shape;
  const descriptor = await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(c.image);
  if (!(descriptor instanceof Float32Array) || descriptor.length !== 128) throw new Error(`${c.name}: no descriptor`);
  metadata[c.name] = JSON.stringify({ ...c.params, height: h, width: w });
  tensors.push([`${c.name}.image`, 'U8', [h, w, 3], Buffer.from(Uint8Array.from(await c.image.data()))]);
  tensors.push([`${c.name}.descriptor`, 'F32', [128], Buffer.from(descriptor.buffer)]);
  if (c.name === 'odd_portrait') {
    const netInput = await faceapi.toNetInput(c.image);
    const batch = netInput.toBatchTensor(150, true);
    tensors.push([`${c.name}.net_input`, 'F32', [150, 150, 3], Buffer.from((await batch.data()).buffer)]);
    batch.dispose();
  }
  const norm = Math.hypot(...descriptor);
  console.log(`${c.name}: ${h}x${w}, |descriptor| = ${norm.toFixed(4)}`);
}

// ---- safetensors: u64 LE header length, JSON header (padded with spaces to 8 bytes), raw data
const header = { __metadata__: metadata };
let offset = 0;
for (const [name, dtype, shape, bytes] of tensors) {
  header[name] = { dtype, shape, data_offsets: [offset, offset + bytes.length] };
  offset += bytes.length;
}
let json = JSON.stringify(header);
json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
const length = Buffer.alloc(8);
length.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
const tmp = `${out}.tmp.${process.pid}`;
fs.writeFileSync(tmp, Buffer.concat([length, Buffer.from(json), ...tensors.map((t) => t[3])]));
fs.renameSync(tmp, out);
console.log(`wrote ${out}: ${cases.length} cases, ${offset} bytes of data`);
