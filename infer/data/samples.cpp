// Path metadata of CASIA-SURF samples (samples.h): a walk over the path's components.
#include "infer/data/samples.h"

#include <algorithm>
#include <vector>

namespace infer {
namespace {

std::vector<std::string_view> components(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t pos = 0;
  while (pos <= path.size()) {
    const std::size_t end = std::min(path.find('/', pos), path.size());
    if (end > pos) parts.push_back(path.substr(pos, end - pos));
    pos = end + 1;
  }
  return parts;
}

}  // namespace

std::string_view attack_code(AttackType t) {
  switch (t) {
    case AttackType::real: return "real";
    case AttackType::e_s: return "01_e_s";
    case AttackType::e_b: return "02_e_b";
    case AttackType::en_s: return "03_en_s";
    case AttackType::en_b: return "04_en_b";
    case AttackType::enm_s: return "05_enm_s";
    case AttackType::enm_b: return "06_enm_b";
    case AttackType::unknown: break;
  }
  return "unknown";
}

AttackTraits attack_traits(AttackType t) {
  AttackTraits a;
  const int k = static_cast<int>(t);
  if (k < 1) return a;
  a.eyes = true;
  a.nose = k >= 3;
  a.mouth = k >= 5;
  a.bent = k % 2 == 0;
  return a;
}

AttackType parse_attack(std::string_view session) {
  if (session.ends_with(".rssdk")) session.remove_suffix(6);
  for (AttackType t : kKnownAttackTypes)
    if (session == attack_code(t)) return t;
  return AttackType::unknown;
}

std::string_view split_name(Split s) {
  switch (s) {
    case Split::training: return "training";
    case Split::val: return "val";
    case Split::test: return "test";
    case Split::unknown: break;
  }
  return "unknown";
}

SampleInfo parse_sample_path(std::string_view path) {
  SampleInfo info;
  const auto parts = components(path);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (parts[i] == "Val") {
      info.split = Split::val;
      return info;
    }
    if (parts[i] == "Test") {
      info.split = Split::test;
      return info;
    }
    if (parts[i] != "Training") continue;
    info.split = Split::training;
    // Training/<part>/<subject>/<session>/<modality>/<n>.jpg
    if (i + 3 >= parts.size()) return info;
    info.real_part = parts[i + 1] == "real_part";
    info.fake_part = parts[i + 1] == "fake_part";
    if (!info.real_part && !info.fake_part) return info;
    info.subject = parts[i + 2];
    info.session = parts[i + 3];
    info.attack = parse_attack(info.session);
    return info;
  }
  return info;
}

}  // namespace infer
