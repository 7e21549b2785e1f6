#include "models/net.h"

namespace models {

const char* modality_name(Modality m) {
  switch (m) {
    case Modality::rgb:
      return "rgb";
    case Modality::depth:
      return "depth";
    case Modality::ir:
      return "ir";
  }
  return "?";
}

Modality parse_modality(const std::string& name) {
  for (Modality m : {Modality::rgb, Modality::depth, Modality::ir})
    if (name == modality_name(m)) return m;
  throw nn::Error(nn::str("unknown modality '", name, "' (rgb, depth, ir)"));
}

}  // namespace models
