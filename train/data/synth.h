// The built-in synthetic dataset (SYSTEM.md §4): procedural faces and printed-photo attacks in RGB,
// Depth and IR, written in the CASIA-SURF layout with reference-format list files. Every image is a pure
// function of (seed, subject, session, frame), so the output is identical for any thread count.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "infer/data/samples.h"

namespace hardtune::data {

// real = 0; 1..6 = the CASIA-SURF attack codes 01_e_s .. 06_enm_b (infer/data/samples.h, with attack_code).
using infer::AttackType;
using infer::attack_code;

// What a synthetic image needs beyond its identity: size and how hard the attack cues are to see.
struct SynthLook {
  int size = 128;            // side of the square images, pixels
  double difficulty = 0.5;   // 0 = blatant prints, 1 = prints close to live faces in every modality
};

// One triplet to render. The attacker is the person in front of the camera; for an attack, `victim` is
// whose photo is printed (often another subject).
struct SampleSpec {
  std::uint64_t seed = 0;
  int attacker = 0;   // global subject id
  int victim = 0;
  AttackType type = AttackType::real;
  int frame = 0;
  bool without_sheet = false;  // an attack frame with the print taken away (tests: what the holes show)
};

// Pixel classes of a rendered sample (tests and debugging; not written to disk).
enum Region : std::uint8_t { background = 0, face = 1, paper = 2, face_through_hole = 3 };

struct Triplet {
  int size = 0;
  std::vector<std::uint8_t> rgb;    // (size, size, 3) interleaved
  std::vector<std::uint8_t> depth;  // (size, size), 0 = no measurement / background, near = bright
  std::vector<std::uint8_t> ir;     // (size, size)
  std::vector<std::uint8_t> region; // (size, size) of Region
};

Triplet render_sample(const SampleSpec& spec, const SynthLook& look);

struct SynthOptions {
  std::string out;
  std::uint64_t seed = 1;
  int subjects_train = 30, subjects_val = 10, subjects_test = 10;
  int samples_per_subject = 4;   // frames per session (live and each attack type)
  SynthLook look;
  std::string contact_sheet;     // PNG path, empty = none
  bool quiet = false;            // no progress line
};

struct SynthSummary {
  long train_rows = 0, val_rows = 0, test_rows = 0;
  double seconds = 0;
};

// Writes <out>/{Training,Val,Test}/..., <out>/{train,val,test}_list.txt (REFERENCE.md §4.1) and <out>/meta.csv
// (rgb path, attacker, victim, type code, frame for every row) through <out>.partial/, renamed
// into place at the end; refuses an existing <out>. Parallel over triplets (OpenMP).
SynthSummary generate_synth_dataset(const SynthOptions& options);

// One row per type (live, 01..06), each row RGB | Depth | IR, with a green (live) or red (attack) tag.
void write_contact_sheet(const std::string& path, std::uint64_t seed, const SynthLook& look);

// stb_image_write wrappers: encode to memory, then write the file (errors name the path).
void write_jpeg(const std::string& path, const std::uint8_t* pixels, int width, int height, int channels,
                int quality = 90);
void write_png(const std::string& path, const std::uint8_t* pixels, int width, int height, int channels);

}  // namespace hardtune::data
