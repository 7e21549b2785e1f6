// What a CASIA-SURF sample's path says about it (REFERENCE.md §4.1): the split, the subject, the session
// and the attack type. Training paths look like
//   [train/]Training/{real_part,fake_part}/CLKJ_AS0005/05_enm_s.rssdk/color/101.jpg
// Val and Test paths ([valid/]Val/0003/000123-color.jpg) carry neither subject nor attack type.
// Attack codes are <nn>_<cut>_<shape>: cut e = eyes, en = eyes+nose, enm = eyes+nose+mouth cut out of a
// printed photo; shape s = flat, b = bent. The reading of the codes is ours (the dataset does not state it).
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace infer {

enum class Split { unknown, training, val, test };

enum class AttackType {
  unknown = -1,
  real = 0,
  e_s = 1,    // 01_e_s: eyes cut, flat
  e_b = 2,    // 02_e_b: eyes cut, bent
  en_s = 3,   // 03_en_s: eyes+nose cut, flat
  en_b = 4,   // 04_en_b: eyes+nose cut, bent
  enm_s = 5,  // 05_enm_s: eyes+nose+mouth cut, flat
  enm_b = 6,  // 06_enm_b: eyes+nose+mouth cut, bent
};
inline constexpr std::array<AttackType, 7> kKnownAttackTypes = {AttackType::real,  AttackType::e_s,  AttackType::e_b,
                                                                 AttackType::en_s,  AttackType::en_b, AttackType::enm_s,
                                                                 AttackType::enm_b};

// The parts of the face cut out of the print, and whether the print is held flat or bent.
struct AttackTraits {
  bool eyes = false, nose = false, mouth = false;
  bool bent = false;
};

// "real", "01_e_s" ... "06_enm_b" (the session name without ".rssdk"); "unknown".
std::string_view attack_code(AttackType t);
AttackTraits attack_traits(AttackType t);  // all false for real and unknown
// A session name ("04_en_b", "04_en_b.rssdk", "real.rssdk") to its attack type; unknown when unrecognised.
AttackType parse_attack(std::string_view session);

std::string_view split_name(Split s);  // "training", "val", "test", "unknown"

struct SampleInfo {
  Split split = Split::unknown;
  std::string subject;  // "CLKJ_AS0005"; empty when the path has none
  std::string session;  // "05_enm_s.rssdk" as written; empty when the path has none
  AttackType attack = AttackType::unknown;
  bool real_part = false, fake_part = false;  // which Training folder the path is in
};

// Parses a list path (any modality; the rgb path is the usual choice). Never throws: what it cannot
// recognise stays unknown/empty.
SampleInfo parse_sample_path(std::string_view path);

}  // namespace infer
