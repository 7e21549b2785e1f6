// Images as tensors: decoding files (stb_image: JPEG, PNG, BMP, PNM) to uint8 RGB (H, W, 3), and the
// geometric steps of face-api's input pipeline on (H, W, C) images: zero padding to a square and
// TensorFlow's resize_bilinear (every align_corners / half_pixel_centers mode, as tfjs's CPU kernel computes
// it: double arithmetic, one rounding to float32).
#pragma once

#include <string>

#include "libnn/core/tensor.h"

namespace infer {

// u8 (H, W, 3), RGB (grey and alpha images are converted). Errors name the file: missing, unreadable,
// empty, not an image, corrupt, truncated (a JPEG without its end marker: PIL refuses those too), or
// larger than 32768 pixels on a side.
nn::Tensor load_image_rgb(const std::string& path);

// face-api's padToSquare(image, isCenterImage = true): zeros along the smaller side, diff = |H - W|;
// round(diff / 2) (halves up) rows / columns appended after the image, the rest prepended before it.
// (H, W, C) of any dtype -> f32 (S, S, C), S = max(H, W). A square image is returned as f32, unpadded.
nn::Tensor pad_to_square(const nn::Tensor& image);

// tf.image.resizeBilinear on (H, W, C) of any dtype -> f32 (height, width, C). align_corners maps the corner
// pixel centres onto each other; half_pixel_centers samples at (dst + 0.5) * scale - 0.5; with neither
// (face-api's choice) the legacy mapping src = dst * in / out.
nn::Tensor resize_bilinear(const nn::Tensor& image, nn::index_t height, nn::index_t width, bool align_corners = false,
                           bool half_pixel_centers = false);

}  // namespace infer
