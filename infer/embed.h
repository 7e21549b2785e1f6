// `hardtune embed`: face descriptors of image files, as JSON. The CLI only parses options and calls run_embed.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace infer {

struct EmbedOptions {
  std::string model = "faceapi";  // the only model so far
  std::string weights;  // faceapi: a folder with face_recognition_model-weights_manifest.json, or the manifest
  std::vector<std::string> images;
};

// Writes [{"image": path, "descriptor": [128 numbers]}, ...] in the order given (each float printed with 9
// significant digits, enough to read back the same float32). Nothing is written unless every image loads.
void run_embed(const EmbedOptions& options, std::ostream& out);

}  // namespace infer
