// face-api's FaceRecognitionNet (@vladmandic/face-api 1.7.15; ../shared/spec/FACEAPI_NET.md): the tfjs port of
// dlib's dlib_face_recognition_resnet_model_v1, a 29-conv ResNet mapping a 150x150 RGB face to a 128-d
// descriptor (Euclidean distance < 0.6 = same person). Layout NCHW / OIHW; parameter names PyTorch-style
// (`conv32_1.conv1.conv.weight`, `conv32_1.conv1.scale.bias`, `fc.weight` (128, 256)), so the TF.js weights
// map onto it by renaming (weights_import/maps/faceapi.cpp).
//
// TF padding rules, translated: every 3x3 stride-1 conv is SAME = 1 zero on each side; the 7x7 stem and the
// first conv of a down block (3x3 stride 2) are VALID = no padding; pools are VALID (floor).
// A down block's main branch can come out one row and column smaller than its pooled shortcut (even input
// sizes: 8 -> 3 vs 4, 4 -> 1 vs 2); face-api then appends one zero row at the bottom and one zero column at
// the right of the main branch, after conv2, before the add and the final ReLU.
#pragma once

#include <array>
#include <memory>
#include <vector>

#include "models/blocks/channel_affine.h"
#include "models/dlas.h"

namespace models {

// face-api's conv unit: conv (with bias) -> scale (ChannelAffine) -> ReLU if `relu`.
class FaceApiConvUnit : public nn::Module {
 public:
  // same_padding: TF "SAME" for an odd kernel at stride 1 (kernel / 2 zeros per side); else "VALID".
  FaceApiConvUnit(index_t in_channels, index_t out_channels, index_t kernel, index_t stride, bool same_padding,
                  bool relu, nn::Generator& gen = nn::default_generator());
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<nn::Conv2d> conv;
  std::shared_ptr<ChannelAffine> scale;
  bool relu;
};

// face-api's residual layer. Plain: conv1 (3x3 SAME, ReLU) -> conv2 (3x3 SAME) -> + x -> ReLU (in == out).
// Down: conv1 is 3x3 stride 2 VALID, the shortcut is avg_pool 2x2 stride 2 of x, the main branch is zero-padded
// at the bottom/right when smaller (see the file comment), and the shortcut's channels are matched to `out`:
//   in == out      unchanged;
//   out == 2 * in  zero channels appended (face-api's rule: pooled channels stay at 0..in-1);
//   in == k * out  the k consecutive groups of `out` channels summed. This is DLAS layer4 on the 3
//                  concatenated streams: its pretrained conv1 filters W are tiled 3x unscaled, and
//                  conv([W W W], cat(a, b, c)) = conv(W, a + b + c), so the main branch reads the streams'
//                  sum; the shortcut must add the same signal, pool(a + b + c) = the sum of the pooled
//                  groups, for the block to stay a residual of one input. (Keeping one group would drop two
//                  streams from the shortcut; averaging would be the 1/3 scaling the filters deliberately
//                  do not get.) With identical streams both branches see 3a, like the pretrained block on 3a.
class FaceApiResidual : public nn::Module {
 public:
  FaceApiResidual(index_t in_channels, index_t out_channels, bool down, nn::Generator& gen = nn::default_generator());
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<FaceApiConvUnit> conv1, conv2;
  bool down;
  index_t in_channels, out_channels;
};

// Named blocks run in order; children keep face-api's block names ("conv128_down", "conv128_1", ...).
class FaceApiGroup : public nn::Module {
 public:
  FaceApiGroup() : nn::Module("FaceApiGroup") {}
  Tensor forward(const Tensor& x) override;
};

// The blocks of face-api's groups: `<prefix>_down` (in -> out) then `<prefix>_1 .. _<residuals>` (out -> out).
std::shared_ptr<FaceApiGroup> faceapi_group(const std::string& prefix, index_t in_channels, index_t out_channels,
                                            int residuals, nn::Generator& gen = nn::default_generator());

// The part of the net every user shares: conv32_down (7x7 s2 VALID, 3 -> 32), max pool 3x3 s2, conv32_1..3,
// conv64_down, conv64_1..3 (L1: 64 ch, 17x17 at 150), conv128_down, conv128_1..2 (L2: 128 ch, 8x8),
// conv256_down, conv256_1..2 (L3: 256 ch, 4x4). build() registers them on the owner under these flat names.
struct FaceApiTrunk {
  void build(nn::Module& owner, nn::Generator& gen);
  Stream::Levels levels(const Tensor& x) const;  // normalized (N, 3, H, W) -> L1, L2, L3

  std::shared_ptr<FaceApiConvUnit> conv32_down;
  std::array<std::vector<std::shared_ptr<FaceApiResidual>>, 4> stages;  // conv32, conv64, conv128, conv256
};

class FaceRecognitionNet : public nn::Module {
 public:
  explicit FaceRecognitionNet(nn::Generator& gen = nn::default_generator());
  // Normalized images (N, 3, 150, 150) (faceapi_normalize) -> descriptors (N, 128), not L2-normalized.
  Tensor forward(const Tensor& x) override;
  Stream::Levels levels(const Tensor& x) const { return trunk.levels(x); }

  FaceApiTrunk trunk;
  std::shared_ptr<FaceApiResidual> conv256_down_out;  // 256 -> 256, 4x4 -> 2x2
  std::shared_ptr<nn::Linear> fc;                     // 256 -> 128, no bias
};

// face-api's normalization: RGB images (H, W, 3) or (N, H, W, 3), u8 or floating, values 0..255 ->
// f32 (N, 3, H, W) = (float32(p) - mean[c]) / 255, subtract and divide each rounded to float32 as tfjs does;
// mean (R, G, B) = 122.782, 117.001, 104.298. (dlib divides by 256; face-api by 255.)
Tensor faceapi_normalize(const Tensor& images);

constexpr index_t kFaceApiInputSize = 150;
constexpr std::array<float, 3> kFaceApiMeanRgb{122.782f, 117.001f, 104.298f};

}  // namespace models
