// Rendering of one synthetic triplet: a subject's face as a height field (head ellipsoid plus Gaussian
// features), shaded orthographically under a small pose, and for attacks a printed photo of the victim on a
// flat or bent sheet in front of the attacker, with holes through which the attacker's face shows.
// All randomness comes from Philox streams keyed by (seed, what, subject, session, frame): no draw depends
// on another sample, so any thread may render any sample.
#include <algorithm>
#include <cmath>

#include "libnn/core/check.h"
#include "libnn/core/rng.h"
#include "train/data/synth.h"

namespace hardtune::data {

namespace {

constexpr double kPi = 3.14159265358979323846;

// A private stream of uniform draws: word k is word k % 4 of Philox counter base + k / 4. The key gives each
// (what, subject, session, frame) its own 2^20 counters.
std::uint64_t stream_base(std::uint64_t what, std::uint64_t subject, std::uint64_t session, std::uint64_t frame) {
  return (((what << 20 | subject) << 4 | session) << 16 | frame) << 20;
}

class Stream {
 public:
  Stream(std::uint64_t seed, std::uint64_t what, std::uint64_t subject, std::uint64_t session, std::uint64_t frame)
      : gen_(seed), base_(stream_base(what, subject, session, frame)) {}
  double uniform() {
    if (k_ % 4 == 0) words_ = gen_.block(base_ + k_ / 4);
    return nn::Generator::to_unit(words_[k_++ % 4]);
  }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  double normal() {
    const double u1 = uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2 * kPi * u2);
  }
  std::uint32_t word() {
    if (k_ % 4 == 0) words_ = gen_.block(base_ + k_ / 4);
    return words_[k_++ % 4];
  }

 private:
  nn::Generator gen_;
  std::uint64_t base_, k_ = 0;
  std::array<std::uint32_t, 4> words_{};
};

enum What : std::uint64_t { kSubject = 1, kSample = 2, kPixels = 3, kPrint = 4, kHold = 5 };

struct Rgb {
  double r, g, b;
};
Rgb mix(Rgb a, Rgb b, double t) { return {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t}; }
Rgb scale(Rgb a, double s) { return {a.r * s, a.g * s, a.b * s}; }

double smoothstep(double e0, double e1, double x) {
  const double t = std::clamp((x - e0) / (e1 - e0), 0.0, 1.0);
  return t * t * (3 - 2 * t);
}
double gauss2(double dx, double dy) {
  const double q = dx * dx + dy * dy;
  return q > 12 ? 0.0 : std::exp(-q);
}

// Value noise on an integer lattice, hashed (not Philox: it is evaluated millions of times per image and
// needs no statistical quality beyond looking like skin blotches or paper grain).
double lattice(std::uint32_t key, int x, int y) {
  std::uint32_t h = key ^ (static_cast<std::uint32_t>(x) * 0x8da6b343u) ^ (static_cast<std::uint32_t>(y) * 0xd8163841u);
  h ^= h >> 15, h *= 0x2c1b3c6du, h ^= h >> 12, h *= 0x297a2d39u, h ^= h >> 15;
  return (h & 0xffffff) / double(0xffffff) * 2 - 1;
}
double value_noise(std::uint32_t key, double x, double y) {
  const int ix = static_cast<int>(std::floor(x)), iy = static_cast<int>(std::floor(y));
  const double fx = x - ix, fy = y - iy, sx = fx * fx * (3 - 2 * fx), sy = fy * fy * (3 - 2 * fy);
  const double a = lattice(key, ix, iy), b = lattice(key, ix + 1, iy);
  const double c = lattice(key, ix, iy + 1), d = lattice(key, ix + 1, iy + 1);
  return (a + (b - a) * sx) * (1 - sy) + (c + (d - c) * sx) * sy;
}
double fbm(std::uint32_t key, double x, double y) {
  return 0.6 * value_noise(key, x, y) + 0.3 * value_noise(key + 1, 2.1 * x, 2.1 * y) +
         0.1 * value_noise(key + 2, 4.3 * x, 4.3 * y);
}

// A subject's face, in face units: u right, v down, 1 = half the head's width; height z toward the camera.
struct Subject {
  double head_w, head_h, head_depth, head_v;
  double eye_x, eye_y, eye_rx, eye_ry, socket_depth;
  double brow_y, brow_h, brow_thick;
  double nose_top, nose_tip, nose_w, nose_h;
  double mouth_y, mouth_w, lip_h;
  double chin_h, cheek_h, hairline;
  Rgb skin, lips, brows, hair, iris;
  double ir_skin;
  std::uint32_t texture_key;
};

Subject make_subject(std::uint64_t seed, int id) {
  Stream r(seed, kSubject, static_cast<std::uint64_t>(id), 0, 0);
  Subject s;
  s.head_w = r.uniform(0.92, 1.05);
  s.head_h = r.uniform(1.25, 1.42);
  s.head_depth = r.uniform(0.75, 0.95);
  s.head_v = r.uniform(-0.06, 0.04);
  s.eye_x = r.uniform(0.3, 0.38);
  s.eye_y = r.uniform(-0.2, -0.1);
  s.eye_rx = r.uniform(0.11, 0.14);
  s.eye_ry = r.uniform(0.045, 0.06);
  s.socket_depth = r.uniform(0.08, 0.14);
  s.brow_y = s.eye_y - r.uniform(0.14, 0.2);
  s.brow_h = r.uniform(0.03, 0.06);
  s.brow_thick = r.uniform(0.025, 0.045);
  s.nose_top = s.eye_y + 0.03;
  s.nose_tip = r.uniform(0.26, 0.36);
  s.nose_w = r.uniform(0.08, 0.12);
  s.nose_h = r.uniform(0.2, 0.32);
  s.mouth_y = s.nose_tip + r.uniform(0.24, 0.32);
  s.mouth_w = r.uniform(0.2, 0.27);
  s.lip_h = r.uniform(0.03, 0.06);
  s.chin_h = r.uniform(0.03, 0.08);
  s.cheek_h = r.uniform(0.02, 0.06);
  s.hairline = r.uniform(-0.95, -0.7);
  const double tone = r.uniform();
  s.skin = mix({0.96, 0.8, 0.7}, {0.42, 0.28, 0.2}, tone);
  s.skin = {s.skin.r * r.uniform(0.95, 1.05), s.skin.g * r.uniform(0.95, 1.05), s.skin.b * r.uniform(0.93, 1.05)};
  s.lips = mix(s.skin, {0.62, 0.25, 0.27}, r.uniform(0.35, 0.6));
  const double hair_dark = r.uniform();
  s.hair = mix({0.55, 0.4, 0.25}, {0.06, 0.05, 0.05}, std::sqrt(hair_dark));
  s.brows = mix(s.hair, s.skin, 0.25);
  s.iris = mix({0.35, 0.22, 0.12}, {0.3, 0.45, 0.55}, r.uniform() < 0.7 ? 0.0 : r.uniform());
  s.ir_skin = r.uniform(0.78, 0.9);
  s.texture_key = r.word();
  return s;
}

// Height of the face surface at (u, v); < 0 means outside the head.
double face_height(const Subject& s, double u, double v) {
  const double hu = u / s.head_w, hv = (v - s.head_v) / s.head_h;
  const double e = 1 - hu * hu - hv * hv;
  if (e <= 0) {
    // The neck: a cylinder behind the jaw, so the silhouette is not a floating egg.
    const double nu = u / (0.55 * s.head_w);
    if (v > s.head_v && v < 2.2 && std::abs(nu) < 1) return 0.45 * s.head_depth * std::sqrt(1 - nu * nu) - 0.15;
    return -1;
  }
  double z = s.head_depth * std::sqrt(e);
  for (const double side : {-1.0, 1.0}) {
    const double du = u - side * s.eye_x;
    z -= s.socket_depth * gauss2(du / 0.17, (v - s.eye_y) / 0.11);
    z += 0.5 * s.socket_depth * gauss2(du / s.eye_rx, (v - s.eye_y) / (1.6 * s.eye_ry));
    z += s.brow_h * gauss2(du / 0.2, (v - s.brow_y) / 0.06);
    z += s.cheek_h * gauss2((u - side * 0.42) / 0.2, (v - s.nose_tip + 0.05) / 0.2);
    z += 0.04 * gauss2((u - side * 0.12) / 0.06, (v - s.nose_tip - 0.02) / 0.05);  // nostril wings
  }
  if (v > s.nose_top - 0.1 && v < s.nose_tip + 0.15) {
    const double t = std::clamp((v - s.nose_top) / (s.nose_tip - s.nose_top), 0.0, 1.0);
    const double below = v > s.nose_tip ? std::exp(-std::pow((v - s.nose_tip) / 0.05, 2)) : 1.0;
    const double above = v < s.nose_top ? std::exp(-std::pow((v - s.nose_top) / 0.05, 2)) : 1.0;
    const double w = s.nose_w * (0.6 + 0.6 * t);
    z += s.nose_h * (0.25 + 0.75 * t * t) * below * above * std::exp(-std::pow(u / w, 2));
  }
  const double mouth_dv = v - s.mouth_y;
  z += s.lip_h * gauss2(u / s.mouth_w, (mouth_dv + 0.035) / 0.035) + s.lip_h * gauss2(u / s.mouth_w, (mouth_dv - 0.04) / 0.04);
  z -= 0.02 * gauss2(u / s.mouth_w, mouth_dv / 0.012);
  z += s.chin_h * gauss2(u / 0.25, (v - s.mouth_y - 0.32) / 0.1);
  return z;
}

struct Material {
  Rgb albedo;
  double ir, gloss;
  bool dark_to_sensor;  // pupils and hair scatter the structured-light pattern: depth dropouts
};

Material face_material(const Subject& s, double u, double v, double gaze_u) {
  const double grain = fbm(s.texture_key, u * 9, v * 9);
  Material m{scale(s.skin, 1 + 0.06 * grain + 0.02 * value_noise(s.texture_key + 7, u * 40, v * 40)),
             s.ir_skin * (1 + 0.015 * grain), 0.25, false};
  const double hairline = s.hairline + 0.12 * u * u + 0.04 * value_noise(s.texture_key + 3, u * 6, 0);
  if (v < hairline || (std::abs(u) > 0.93 * s.head_w && v < s.eye_y)) {
    const double strand = value_noise(s.texture_key + 4, u * 60, v * 6);
    return {scale(s.hair, 1 + 0.25 * strand), 0.3 + 0.05 * strand, 0.1, true};
  }
  for (const double side : {-1.0, 1.0}) {
    const double du = u - side * s.eye_x;
    const double brow = gauss2(du / 0.17, (v - s.brow_y - 0.01 * du / 0.17) / s.brow_thick);
    if (brow > 0.3) m.albedo = mix(m.albedo, s.brows, std::min(1.0, brow)), m.ir = 0.35, m.gloss = 0.05;
    const double eu = du / s.eye_rx, ev = (v - s.eye_y) / s.eye_ry;
    if (eu * eu + ev * ev < 1) {
      const double iu = (du - gaze_u) / s.eye_ry, iv = (v - s.eye_y) / s.eye_ry;
      const double ir2 = iu * iu + iv * iv;
      if (ir2 < 0.16) return {{0.03, 0.03, 0.03}, 0.05, 0.9, true};
      if (ir2 < 0.8) return {s.iris, 0.2, 0.9, false};
      return {{0.88, 0.86, 0.84}, 0.55, 0.9, false};
    }
  }
  const double lip = smoothstep(1.0, 0.6, std::hypot(u / s.mouth_w, (v - s.mouth_y) / 0.075));
  if (lip > 0) m.albedo = mix(m.albedo, s.lips, lip), m.ir = m.ir * (1 - 0.1 * lip);
  if (std::abs(v - s.mouth_y) < 0.008 && std::abs(u) < 0.9 * s.mouth_w) m.albedo = scale(m.albedo, 0.4), m.ir *= 0.5;
  return m;
}

// Everything about one frame that is not per pixel.
struct Pose {
  double cx, cy, unit;  // face centre in pixels, pixels per face unit
  double roll, yaw, pitch;
  double distance;      // camera to the face plane, metres
};

struct Lighting {
  double lx, ly, lz, ambient, spec;
  Rgb tint;
};

struct FaceHit {
  bool hit = false;
  double u = 0, v = 0, z = 0;  // face coordinates and height (face units)
  double nx = 0, ny = 0, nz = 1;
};

// Orthographic ray along the camera axis against the posed height field: fixed-point iteration on the
// small yaw/pitch rotation.
FaceHit trace_face(const Subject& s, const Pose& p, double x, double y) {
  const double dx = (x - p.cx) / p.unit, dy = (y - p.cy) / p.unit;
  const double cr = std::cos(p.roll), sr = std::sin(p.roll);
  const double cu = cr * dx + sr * dy, cv = -sr * dx + cr * dy;
  const double sy = std::sin(p.yaw), cy = std::cos(p.yaw), sp = std::sin(p.pitch), cp = std::cos(p.pitch);
  FaceHit h;
  double u = cu, v = cv, z = face_height(s, u, v);
  if (z < 0) z = 0;
  for (int it = 0; it < 3; ++it) {
    u = (cu - z * sy) / cy;
    v = (cv - z * sp) / cp;
    z = face_height(s, u, v);
    if (z < 0) return h;
  }
  constexpr double e = 0.01;
  const double gx = (face_height(s, u + e, v) - face_height(s, u - e, v)) / (2 * e);
  const double gy = (face_height(s, u, v + e) - face_height(s, u, v - e)) / (2 * e);
  double nx = -gx, ny = -gy, nz = 1;
  const double n = std::sqrt(nx * nx + ny * ny + nz * nz);
  nx /= n, ny /= n, nz /= n;
  // Rotate the normal like the surface (yaw about v, pitch about u), then the roll in the image plane.
  const double nx1 = nx * cy + nz * sy, nz1 = -nx * sy + nz * cy;
  const double ny1 = ny * cp + nz1 * sp, nz2 = -ny * sp + nz1 * cp;
  h.hit = true, h.u = u, h.v = v, h.z = z * cy * cp - u * sy - v * sp;
  h.nx = cr * nx1 - sr * ny1, h.ny = sr * nx1 + cr * ny1, h.nz = std::max(nz2, 0.0);
  return h;
}

struct Shaded {
  Rgb rgb;
  double ir;
};

Shaded shade_face(const Subject& s, const FaceHit& h, const Lighting& l, double gaze_u, bool* dark) {
  const Material m = face_material(s, h.u, h.v, gaze_u);
  const double diffuse = std::max(0.0, h.nx * l.lx + h.ny * l.ly + h.nz * l.lz);
  // Blinn-Phong with the viewer on the camera axis.
  double hx = l.lx, hy = l.ly, hz = l.lz + 1;
  const double hn = std::sqrt(hx * hx + hy * hy + hz * hz);
  const double spec = std::pow(std::max(0.0, (h.nx * hx + h.ny * hy + h.nz * hz) / hn), 30) * l.spec * m.gloss;
  const double light = l.ambient + (1 - l.ambient) * diffuse;
  Rgb c{m.albedo.r * light * l.tint.r + spec, m.albedo.g * light * l.tint.g + spec, m.albedo.b * light * l.tint.b + spec};
  // NIR: the illuminator sits beside the sensor, so the light comes along the view axis.
  const double ir_spec = std::pow(h.nz, 40) * 0.35 * m.gloss * 2;
  if (dark) *dark = m.dark_to_sensor;
  return {c, m.ir * (0.25 + 0.75 * h.nz) + ir_spec};
}

Pose draw_pose(Stream& r, int size, double difficulty) {
  Pose p;
  const double wobble = 0.7 + 0.6 * difficulty;
  p.distance = r.uniform(0.55, 0.7);
  p.unit = size * 0.3 * (0.6 / p.distance) * r.uniform(0.95, 1.05);
  p.cx = size * (0.5 + r.uniform(-0.04, 0.04) * wobble);
  p.cy = size * (0.52 + r.uniform(-0.04, 0.04) * wobble);
  p.roll = r.uniform(-0.12, 0.12) * wobble;
  p.yaw = r.uniform(-0.2, 0.2) * wobble;
  p.pitch = r.uniform(-0.12, 0.12) * wobble;
  return p;
}

Lighting draw_lighting(Stream& r, double difficulty) {
  Lighting l;
  const double az = r.uniform(-1.0, 1.0) * (0.6 + 0.5 * difficulty), el = r.uniform(-0.7, 0.2);
  l.lx = std::sin(az) * std::cos(el), l.ly = std::sin(el), l.lz = std::cos(az) * std::cos(el);
  l.ambient = r.uniform(0.3, 0.55);
  l.spec = r.uniform(0.1, 0.4);
  const double warm = r.uniform(-1, 1) * 0.08;
  const double gain = r.uniform(0.95, 1.3);
  l.tint = {gain * (1 + warm), gain, gain * (1 - warm)};
  return l;
}

// The print: where it is, how it is bent, and how it turns the victim's photo into ink on paper.
struct Print {
  double off_u, off_v, half_w, half_h;  // sheet in the attacker's face units
  double gap, tilt_u, tilt_v, bend;     // height above the face plane (face units)
  double contrast, lift, saturation, halftone, halftone_freq, halftone_angle, grain;
  Rgb paper_white;
  double ir_paper, ir_ink, gloss;
  bool cut_nose, cut_mouth;
  Lighting photo_light;
  std::uint32_t key;
};

// `print` is drawn once per session (one physical print), `hold` per frame (how it is held).
Print draw_print(Stream& print, Stream& hold, AttackType type, double d) {
  const infer::AttackTraits traits = infer::attack_traits(type);
  Print pr;
  pr.half_w = print.uniform(1.25, 1.5);
  pr.half_h = print.uniform(1.65, 1.9);
  const double cue = 1 - 0.8 * d;
  pr.contrast = 1 - print.uniform(0.1, 0.35) * cue;
  pr.lift = print.uniform(0.02, 0.1) * cue;
  pr.saturation = 1 - print.uniform(0.0, 0.4) * cue;
  pr.halftone = print.uniform(0.3, 0.7) * cue;
  pr.halftone_freq = print.uniform(0.35, 0.5);
  pr.halftone_angle = print.uniform(0, kPi / 2);
  pr.grain = print.uniform(0.02, 0.06) * (0.3 + cue);
  pr.paper_white = {1.0, print.uniform(0.96, 1.0), print.uniform(0.9, 0.99)};
  pr.ir_paper = 0.55 + 0.3 * d + print.uniform(-0.08, 0.08);
  pr.ir_ink = print.uniform(0.15, 0.35) + 0.3 * d;
  pr.gloss = print.uniform(0.0, 0.4);
  pr.cut_nose = traits.nose;
  pr.cut_mouth = traits.mouth;
  pr.photo_light = draw_lighting(print, 0.0);
  pr.photo_light.lx *= 0.5, pr.photo_light.ly *= 0.5;
  pr.key = print.word();
  pr.bend = traits.bent ? print.uniform(0.25, 0.5) * (0.7 + 0.6 * d) * hold.uniform(0.85, 1.15) : 0.0;
  pr.off_u = hold.uniform(-0.05, 0.05);
  pr.off_v = hold.uniform(-0.05, 0.05);
  pr.gap = hold.uniform(0.02, 0.08) + 0.12 * (1 - d);
  pr.tilt_u = hold.uniform(-0.12, 0.12);
  pr.tilt_v = hold.uniform(-0.12, 0.12);
  return pr;
}

bool in_hole(const Subject& victim, const Print& pr, double pu, double pv) {
  for (const double side : {-1.0, 1.0}) {
    const double eu = (pu - side * victim.eye_x) / 0.17, ev = (pv - victim.eye_y) / 0.095;
    if (eu * eu + ev * ev < 1) return true;
  }
  if (pr.cut_nose) {
    const double t = std::clamp((pv - victim.nose_top) / (victim.nose_tip + 0.08 - victim.nose_top), 0.0, 1.0);
    if (pv > victim.nose_top && pv < victim.nose_tip + 0.08 && std::abs(pu) < 0.05 + 0.1 * t) return true;
  }
  if (pr.cut_mouth) {
    const double mu = pu / (victim.mouth_w + 0.06), mv = (pv - victim.mouth_y) / 0.09;
    if (mu * mu + mv * mv < 1) return true;
  }
  return false;
}

std::uint8_t to_byte(double x) { return static_cast<std::uint8_t>(std::clamp(std::lround(x), 0L, 255L)); }

}  // namespace

Triplet render_sample(const SampleSpec& spec, const SynthLook& look) {
  const int n = look.size;
  // The Philox keys hold 20 bits of subject, 16 of frame and 2^20 counters (3 per pixel).
  NN_CHECK(n >= 8 && n <= 512, "synth: image size must be in [8, 512], got ", n);
  NN_CHECK(spec.attacker >= 0 && spec.attacker < (1 << 20) && spec.victim >= 0 && spec.victim < (1 << 20),
           "synth: subject ids must be in [0, 2^20)");
  NN_CHECK(spec.frame >= 0 && spec.frame < (1 << 16), "synth: frame must be in [0, 65535]");
  const double d = std::clamp(look.difficulty, 0.0, 1.0);
  const int session = static_cast<int>(spec.type);
  const Subject attacker = make_subject(spec.seed, spec.attacker);
  Stream r(spec.seed, kSample, static_cast<std::uint64_t>(spec.attacker), static_cast<std::uint64_t>(session),
           static_cast<std::uint64_t>(spec.frame));
  const Pose pose = draw_pose(r, n, d);
  const Lighting light = draw_lighting(r, d);
  const double gaze = r.uniform(-0.03, 0.03);
  const Rgb bg_top{r.uniform(0.1, 0.8), r.uniform(0.1, 0.8), r.uniform(0.1, 0.8)};
  const Rgb bg_bottom = scale(bg_top, r.uniform(0.5, 1.1));
  const double rgb_noise = r.uniform(1.0, 3.0) * (0.6 + 0.8 * d);
  const double ir_gain = r.uniform(0.85, 1.1) * std::pow(0.6 / pose.distance, 2);
  const double ir_noise = r.uniform(1.5, 3.0) * (0.6 + 0.8 * d);
  const double depth_noise = r.uniform(0.8, 2.0) * (0.6 + 0.8 * d);
  double dropout = r.uniform(0.005, 0.02) * (0.5 + d);
  double depth_noise_gain = 1, ir_over = 1;
  // Headroom: some frames of either class lose a modality's evidence (structured-light interference,
  // an over-exposed NIR frame), so a model must combine modalities rather than threshold depth alone.
  if (r.uniform() < 0.3 * d) dropout = r.uniform(0.3, 0.7), depth_noise_gain = r.uniform(2, 4);
  if (r.uniform() < 0.2 * d) ir_over = r.uniform(1.3, 1.7);
  const int quant = r.uniform() < 0.5 ? 1 : 2;
  // Depth in metres maps to 8 bits over a window that the sensor's near/far settings fix.
  constexpr double near_m = 0.42, far_m = 0.78, face_unit_m = 0.1;
  const auto depth_byte = [&](double height_units) {
    const double metres = pose.distance - height_units * face_unit_m;
    return 255.0 * (far_m - metres) / (far_m - near_m);
  };

  const bool attack = spec.type != AttackType::real;
  Subject victim;
  Print pr{};
  if (attack) {
    victim = make_subject(spec.seed, spec.victim);
    Stream print(spec.seed, kPrint, static_cast<std::uint64_t>(spec.attacker), static_cast<std::uint64_t>(session), 0);
    Stream hold(spec.seed, kHold, static_cast<std::uint64_t>(spec.attacker), static_cast<std::uint64_t>(session),
                static_cast<std::uint64_t>(spec.frame));
    pr = draw_print(print, hold, spec.type, d);
  }
  const double sheet_cos = std::cos(pose.roll), sheet_sin = std::sin(pose.roll);

  Triplet t;
  t.size = n;
  t.rgb.resize(static_cast<std::size_t>(n) * n * 3);
  t.depth.resize(static_cast<std::size_t>(n) * n);
  t.ir.resize(static_cast<std::size_t>(n) * n);
  t.region.resize(static_cast<std::size_t>(n) * n);
  // Per-pixel noise from a fixed set of counters per pixel, so a pixel's noise does not depend on what
  // the other pixels drew (the same attack frame without its sheet has the same noise in the holes).
  const nn::Generator px_gen(spec.seed);
  const std::uint64_t px_base = stream_base(kPixels, static_cast<std::uint64_t>(spec.attacker),
                                            static_cast<std::uint64_t>(session), static_cast<std::uint64_t>(spec.frame));
  for (int y = 0; y < n; ++y) {
    for (int x = 0; x < n; ++x) {
      const std::size_t i = static_cast<std::size_t>(y) * n + x;
      const auto w0 = px_gen.block(px_base + 3 * i), w1 = px_gen.block(px_base + 3 * i + 1), w2 = px_gen.block(px_base + 3 * i + 2);
      const auto unit = [](std::uint32_t w) { return nn::Generator::to_unit(w); };
      const auto normal = [&](std::uint32_t a, std::uint32_t b, bool second = false) {
        const double r = std::sqrt(-2.0 * std::log(unit(a)));
        return second ? r * std::sin(2 * kPi * unit(b)) : r * std::cos(2 * kPi * unit(b));
      };
      const FaceHit hit = trace_face(attacker, pose, x + 0.5, y + 0.5);
      const double by = static_cast<double>(y) / n;
      Rgb c = mix(bg_top, bg_bottom, by);
      double ir = 0.04 + 0.03 * by, depth = 0;
      Region region = background;
      bool dark = false;
      if (hit.hit) {
        const Shaded s = shade_face(attacker, hit, light, gaze, &dark);
        c = s.rgb, ir = s.ir, depth = depth_byte(hit.z), region = face;
        // Grazing surfaces return too little of the projected pattern.
        if (hit.nz < 0.35 && unit(w0[0]) < 0.7) depth = 0;
      }
      if (attack && !spec.without_sheet) {
        // Sheet coordinates: the attacker's face frame, unrotated by the pose's roll, shifted by the hold.
        const double dx = (x + 0.5 - pose.cx) / pose.unit, dy = (y + 0.5 - pose.cy) / pose.unit;
        double su = sheet_cos * dx + sheet_sin * dy - pr.off_u, sv = -sheet_sin * dx + sheet_cos * dy - pr.off_v;
        if (std::abs(su) < pr.half_w && std::abs(sv) < pr.half_h) {
          // A bent sheet wraps toward the camera; its print stretches along the arc.
          const double arc = su * (1 + 0.35 * pr.bend * su * su);
          const bool hole = in_hole(victim, pr, arc, sv);
          if (hole && hit.hit) {
            region = face_through_hole;
          } else if (!hole) {
            const double relief = attacker.head_depth + attacker.nose_h * 0.6 + pr.gap;
            const double height = relief - pr.bend * su * su / (pr.half_w * pr.half_w) + pr.tilt_u * su + pr.tilt_v * sv;
            const double slope = 2 * pr.bend * su / (pr.half_w * pr.half_w) - pr.tilt_u;
            const double nz = 1 / std::sqrt(1 + slope * slope + pr.tilt_v * pr.tilt_v);
            const double nx = slope * nz, ny = -pr.tilt_v * nz;
            // The photo: the victim frontal under studio light, then ink on paper.
            const double pu = arc, pv = sv;
            Rgb photo{0.92, 0.92, 0.9};
            double photo_ir_lum = 0.9;
            const double vz = face_height(victim, pu, pv);
            if (vz >= 0) {
              Pose front{0, 0, 1, 0, 0, 0, 0.6};
              const FaceHit vh = trace_face(victim, front, pu, pv);
              if (vh.hit) photo = shade_face(victim, vh, pr.photo_light, 0, nullptr).rgb;
            } else {
              photo = mix({0.75, 0.78, 0.8}, {0.55, 0.6, 0.65}, (pv + pr.half_h) / (2 * pr.half_h));
            }
            const double lum = 0.3 * photo.r + 0.59 * photo.g + 0.11 * photo.b;
            photo = mix({lum, lum, lum}, photo, pr.saturation);
            const double ca = std::cos(pr.halftone_angle), sa = std::sin(pr.halftone_angle);
            const double hx = (ca * x - sa * y) * pr.halftone_freq * 2 * kPi, hy = (sa * x + ca * y) * pr.halftone_freq * 2 * kPi;
            const double screen = 0.25 * (std::cos(hx) + 1) * (std::cos(hy) + 1) - 0.5;  // in [-0.5, 0.5]
            const double grain = value_noise(pr.key, x * 0.7, y * 0.7);
            const auto ink = [&](double v, double white) {
              double o = pr.lift + pr.contrast * v;
              o += pr.halftone * screen * (1 - std::abs(2 * o - 1)) + pr.grain * grain;
              return o * white;
            };
            Rgb p{ink(photo.r, pr.paper_white.r), ink(photo.g, pr.paper_white.g), ink(photo.b, pr.paper_white.b)};
            const double diffuse = std::max(0.0, nx * light.lx + ny * light.ly + nz * light.lz);
            const double lit = light.ambient + (1 - light.ambient) * diffuse;
            const double sheen = pr.gloss * light.spec * std::pow(nz, 8) * 0.6;
            c = {p.r * lit * light.tint.r + sheen, p.g * lit * light.tint.g + sheen, p.b * lit * light.tint.b + sheen};
            photo_ir_lum = 0.3 * photo.r + 0.59 * photo.g + 0.11 * photo.b;
            ir = pr.ir_paper * (1 - pr.ir_ink * (1 - photo_ir_lum)) * (0.3 + 0.7 * nz) * (1 + 0.5 * pr.grain * grain) +
                 pr.gloss * 0.3 * std::pow(nz, 30);
            depth = depth_byte(height);
            region = paper, dark = false;
          }
        }
      }
      if (region != background && (unit(w0[1]) < dropout || (dark && unit(w0[2]) < 0.5))) depth = 0;
      if (depth > 0) {
        depth = std::round((depth + depth_noise * depth_noise_gain * normal(w0[3], w1[0])) / quant) * quant;
        depth = std::max(depth, 1.0);
      }
      t.depth[i] = to_byte(depth);
      t.ir[i] = to_byte(255 * ir * ir_gain * ir_over + ir_noise * normal(w1[1], w1[2]));
      const double noise = rgb_noise * normal(w1[3], w2[0]);
      t.rgb[3 * i + 0] = to_byte(255 * std::pow(std::max(c.r, 0.0), 1 / 1.4) + noise + rgb_noise * 0.5 * normal(w2[1], w2[2]));
      t.rgb[3 * i + 1] = to_byte(255 * std::pow(std::max(c.g, 0.0), 1 / 1.4) + noise);
      t.rgb[3 * i + 2] = to_byte(255 * std::pow(std::max(c.b, 0.0), 1 / 1.4) + noise + rgb_noise * 0.5 * normal(w2[1], w2[2], true));
      t.region[i] = region;
    }
  }
  return t;
}

}  // namespace hardtune::data
