// The synthetic dataset on disk: which triplets exist (subjects, sessions, frames, victims), where they go
// in the CASIA-SURF layout, the list files, and the parallel, all-or-nothing write through <out>.partial/.
#include "train/data/synth.h"

#include <omp.h>
#include <stb/stb_image_write.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "libnn/core/check.h"
#include "libnn/core/rng.h"
#include "libnn/io/atomic_file.h"
#include "train/progress.h"

namespace hardtune::data {

namespace fs = std::filesystem;

namespace {

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::string*>(context);
  out->append(static_cast<const char*>(data), static_cast<std::size_t>(size));
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  f.close();
  NN_CHECK(f.good(), "synth: cannot write ", path);
}

struct Item {
  SampleSpec spec;
  std::string rgb, depth, ir;
  int label;  // 1 = live, 0 = attack (REFERENCE.md §4.1)
};

std::string subject_name(int id) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "SYNTH_%04d", id + 1);
  return buf;
}

// A word per (purpose, a, b) from the dataset seed, for the choices made per session rather than per pixel.
std::uint32_t choice_word(std::uint64_t seed, std::uint64_t purpose, std::uint64_t a, std::uint64_t b) {
  // Counters below 2^60: the renderer's streams (synth_render.cpp) all lie above.
  return nn::Generator(seed).block(purpose << 56 | a << 28 | b)[0];
}

// The print shows another subject of the same split four times in five, else the attacker's own face.
int pick_victim(std::uint64_t seed, int attacker, int type, int first, int count) {
  const std::uint32_t w = choice_word(seed, 1, static_cast<std::uint64_t>(attacker), static_cast<std::uint64_t>(type));
  if (count < 2 || w % 5 == 0) return attacker;
  const int other = static_cast<int>((w / 5) % static_cast<std::uint32_t>(count - 1));
  return first + (other >= attacker - first ? other + 1 : other);
}

std::vector<AttackType> split_types(bool training) {
  if (training) return {AttackType::real, AttackType::en_b, AttackType::enm_s, AttackType::enm_b};
  return {infer::kKnownAttackTypes.begin(), infer::kKnownAttackTypes.end()};
}

void add_training(const SynthOptions& o, std::vector<Item>& items) {
  for (int s = 0; s < o.subjects_train; ++s) {
    for (const AttackType type : split_types(true)) {
      const bool live = type == AttackType::real;
      const std::string dir = std::string("Training/") + (live ? "real_part/" : "fake_part/") + subject_name(s) + "/" +
                              std::string(attack_code(type)) + ".rssdk/";
      const int victim = live ? s : pick_victim(o.seed, s, static_cast<int>(type), 0, o.subjects_train);
      for (int f = 0; f < o.samples_per_subject; ++f) {
        const std::string n = std::to_string(f + 1) + ".jpg";
        items.push_back({{o.seed, s, victim, type, f}, dir + "color/" + n, dir + "depth/" + n, dir + "ir/" + n, live});
      }
    }
  }
}

// Val and Test: all six attack types, real and fake shuffled together into numbered folders of 1000.
void add_flat(const SynthOptions& o, const std::string& root, int first, int count, std::vector<Item>& items) {
  std::vector<Item> split;
  for (int s = first; s < first + count; ++s) {
    for (const AttackType type : split_types(false)) {
      const bool live = type == AttackType::real;
      const int victim = live ? s : pick_victim(o.seed, s, static_cast<int>(type), first, count);
      for (int f = 0; f < o.samples_per_subject; ++f) split.push_back({{o.seed, s, victim, type, f}, "", "", "", live});
    }
  }
  for (std::size_t i = split.size(); i > 1; --i) {
    const std::size_t j = choice_word(o.seed, 2, static_cast<std::uint64_t>(first), i) % i;
    std::swap(split[i - 1], split[j]);
  }
  for (std::size_t i = 0; i < split.size(); ++i) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s/%04zu/%06zu-", root.c_str(), i / 1000, i);
    split[i].rgb = std::string(buf) + "color.jpg";
    split[i].depth = std::string(buf) + "depth.jpg";
    split[i].ir = std::string(buf) + "ir.jpg";
    items.push_back(std::move(split[i]));
  }
}

std::string list_text(const std::vector<Item>& items, std::size_t begin, std::size_t end) {
  std::ostringstream os;
  os << "rgb,depth,ir,label\n";
  for (std::size_t i = begin; i < end; ++i)
    os << items[i].rgb << ',' << items[i].depth << ',' << items[i].ir << ',' << items[i].label << '\n';
  return os.str();
}

// What the anonymous Val/Test names hide: per-attack metrics and the tests need each row's truth.
std::string meta_text(const std::vector<Item>& items) {
  std::ostringstream os;
  os << "rgb,attacker,victim,type,frame\n";
  for (const Item& item : items)
    os << item.rgb << ',' << subject_name(item.spec.attacker) << ',' << subject_name(item.spec.victim) << ','
       << attack_code(item.spec.type) << ',' << item.spec.frame << '\n';
  return os.str();
}

}  // namespace

void write_jpeg(const std::string& path, const std::uint8_t* pixels, int width, int height, int channels, int quality) {
  std::string bytes;
  NN_CHECK(stbi_write_jpg_to_func(append_bytes, &bytes, width, height, channels, pixels, quality) != 0,
           "synth: cannot encode JPEG ", path);
  write_bytes(path, bytes);
}

void write_png(const std::string& path, const std::uint8_t* pixels, int width, int height, int channels) {
  std::string bytes;
  NN_CHECK(stbi_write_png_to_func(append_bytes, &bytes, width, height, channels, pixels, width * channels) != 0,
           "synth: cannot encode PNG ", path);
  nn::io::write_atomically(path, [&](std::ostream& out) { out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });
}

SynthSummary generate_synth_dataset(const SynthOptions& o) {
  NN_CHECK(!o.out.empty(), "synth: --out is required");
  NN_CHECK(o.subjects_train >= 1 && o.subjects_val >= 1 && o.subjects_test >= 1, "synth: every split needs a subject");
  NN_CHECK(o.subjects_train + o.subjects_val + o.subjects_test < (1 << 20), "synth: at most 2^20 subjects");
  NN_CHECK(o.samples_per_subject >= 1 && o.samples_per_subject < (1 << 16), "synth: samples per subject must be in [1, 65535]");
  NN_CHECK(o.look.size >= 32 && o.look.size <= 512, "synth: --size must be in [32, 512], got ", o.look.size);
  NN_CHECK(o.look.difficulty >= 0 && o.look.difficulty <= 1, "synth: --difficulty must be in [0, 1]");
  const fs::path out(o.out), partial(o.out + ".partial");
  NN_CHECK(!fs::exists(out), "synth: ", o.out, " already exists; remove it or choose another --out");
  // A leftover .partial is an interrupted run: nothing in it is trusted.
  fs::remove_all(partial);
  fs::create_directories(partial);
  const auto start = std::chrono::steady_clock::now();

  std::vector<Item> items;
  add_training(o, items);
  const std::size_t train_end = items.size();
  add_flat(o, "Val", o.subjects_train, o.subjects_val, items);
  const std::size_t val_end = items.size();
  add_flat(o, "Test", o.subjects_train + o.subjects_val, o.subjects_test, items);

  for (const Item& item : items) {
    fs::create_directories((partial / item.rgb).parent_path());
    fs::create_directories((partial / item.depth).parent_path());
    fs::create_directories((partial / item.ir).parent_path());
  }

  // The Val/Test shuffle keys its draws by row index in 28 bits.
  NN_CHECK(items.size() < (std::size_t{1} << 28), "synth: too many triplets (", items.size(), "), at most 2^28");
  const long total = static_cast<long>(items.size());
  Progress progress("synth", total, "triplets");
  std::atomic<long> done{0};
  std::exception_ptr failure;
#pragma omp parallel for schedule(dynamic, 4)
  for (long i = 0; i < total; ++i) {
    try {
      const Item& item = items[static_cast<std::size_t>(i)];
      const Triplet t = render_sample(item.spec, o.look);
      write_jpeg((partial / item.rgb).string(), t.rgb.data(), t.size, t.size, 3);
      write_jpeg((partial / item.depth).string(), t.depth.data(), t.size, t.size, 1);
      write_jpeg((partial / item.ir).string(), t.ir.data(), t.size, t.size, 1);
    } catch (...) {
#pragma omp critical(synth_failure)
      if (!failure) failure = std::current_exception();
    }
    const long n = ++done;
    if (!o.quiet && omp_get_thread_num() == 0) progress.update(n);
  }
  if (failure) std::rethrow_exception(failure);
  if (!o.quiet) progress.update(total);

  write_bytes((partial / "train_list.txt").string(), list_text(items, 0, train_end));
  write_bytes((partial / "val_list.txt").string(), list_text(items, train_end, val_end));
  write_bytes((partial / "test_list.txt").string(), list_text(items, val_end, items.size()));
  write_bytes((partial / "meta.csv").string(), meta_text(items));
  fs::rename(partial, out);
  if (!o.contact_sheet.empty()) write_contact_sheet(o.contact_sheet, o.seed, o.look);

  SynthSummary summary;
  summary.train_rows = static_cast<long>(train_end);
  summary.val_rows = static_cast<long>(val_end - train_end);
  summary.test_rows = static_cast<long>(items.size() - val_end);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

void write_contact_sheet(const std::string& path, std::uint64_t seed, const SynthLook& look) {
  constexpr int tag = 6, gap = 2, rows = 7;
  const int n = look.size, width = tag + 3 * (n + gap), height = rows * (n + gap) - gap;
  std::vector<std::uint8_t> sheet(static_cast<std::size_t>(width) * height * 3, 255);
  for (int row = 0; row < rows; ++row) {
    const AttackType type = static_cast<AttackType>(row);
    const Triplet t = render_sample({seed, 0, row == 0 ? 0 : 1, type, 0}, look);
    const int y0 = row * (n + gap);
    for (int y = 0; y < n; ++y) {
      std::uint8_t* line = &sheet[(static_cast<std::size_t>(y0 + y) * width) * 3];
      for (int x = 0; x < tag - 1; ++x) {
        line[3 * x + 0] = row == 0 ? 40 : 200;
        line[3 * x + 1] = row == 0 ? 170 : 40;
        line[3 * x + 2] = 40;
      }
      for (int x = 0; x < n; ++x) {
        const std::size_t i = static_cast<std::size_t>(y) * n + x;
        for (int c = 0; c < 3; ++c) {
          line[3 * (tag + x) + c] = t.rgb[3 * i + c];
          line[3 * (tag + n + gap + x) + c] = t.depth[i];
          line[3 * (tag + 2 * (n + gap) + x) + c] = t.ir[i];
        }
      }
    }
  }
  write_png(path, sheet.data(), width, height, 3);
}

}  // namespace hardtune::data
