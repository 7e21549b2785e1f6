// The dataset (files of a list, decoded and checked) and the prefetching loader: every kind of bad data
// named with file and line, skip mode with its summary, and batches that depend only on (seed, epoch).
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "infer/image.h"
#include "libnn/core/check.h"
#include "support/temp_dir.h"
#include "train/data/dataset.h"
#include "train/data/loader.h"
#include "train/data/synth.h"

using namespace hardtune::data;
namespace fs = std::filesystem;
using test_support::TempDir;

namespace {

// A 40 x 36 (W x H) gradient image with `channels` channels, deterministic in `salt`.
std::vector<std::uint8_t> pixels(int w, int h, int channels, int salt) {
  std::vector<std::uint8_t> p(static_cast<std::size_t>(w * h * channels));
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<std::uint8_t>((i * 7 + static_cast<std::size_t>(salt) * 31) % 251);
  return p;
}

void write_image(const fs::path& path, int w, int h, int salt, int channels = 3) {
  fs::create_directories(path.parent_path());
  const auto p = pixels(w, h, channels, salt);
  if (path.extension() == ".png")
    write_png(path.string(), p.data(), w, h, channels);
  else
    write_jpeg(path.string(), p.data(), w, h, channels);
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// n good triplets s<i>/{rgb,depth,ir}.jpg, labels alternating from real; list at root/list.txt.
std::string write_dataset(const fs::path& root, int n, const std::string& extra_lines = "") {
  std::string list = "rgb,depth,ir,label\n";
  for (int i = 0; i < n; ++i) {
    const std::string s = nn::str('s', i, '/');
    for (const char* m : {"rgb", "depth", "ir"}) write_image(root / (s + m + ".jpg"), 40, 36, i * 3 + m[0]);
    list += s + "rgb.jpg," + s + "depth.jpg," + s + "ir.jpg," + (i % 2 == 0 ? "1" : "0") + "\n";
  }
  list += extra_lines;
  write_bytes(root / "list.txt", list);
  return (root / "list.txt").string();
}

std::vector<float> values(const nn::Tensor& t) {
  const float* p = t.data<float>();
  return {p, p + t.numel()};
}

}  // namespace

TEST_CASE("data_loader/images: grey becomes three channels; bad files are named with the problem") {
  const TempDir dir("loader_images");
  write_image(dir / "grey.png", 20, 10, 1, 1);
  const nn::Tensor grey = infer::load_image_rgb((dir / "grey.png").string());
  REQUIRE(grey.shape() == nn::Shape{10, 20, 3});
  const auto* g = grey.data<std::uint8_t>();
  const auto src = pixels(20, 10, 1, 1);
  for (std::size_t i = 0; i < src.size(); ++i) {
    CHECK(g[3 * i] == src[i]);
    CHECK(g[3 * i + 2] == src[i]);
  }

  write_image(dir / "good.jpg", 40, 36, 2);
  const std::string jpeg = read_bytes(dir / "good.jpg");
  write_bytes(dir / "truncated.jpg", jpeg.substr(0, jpeg.size() * 2 / 3));
  write_bytes(dir / "empty.jpg", "");
  write_bytes(dir / "garbage.jpg", "\xff\xd8\xff\xe0 this is not a jpeg at all");
  write_image(dir / "good.png", 8, 8, 3);
  const std::string png = read_bytes(dir / "good.png");
  write_bytes(dir / "truncated.png", png.substr(0, png.size() / 2));
  std::string zero = png;  // IHDR width (bytes 16..19) set to 0
  zero[16] = zero[17] = zero[18] = zero[19] = 0;
  write_bytes(dir / "zero.png", zero);

  const auto fails_with = [&](const char* file, const char* what) {
    const std::string path = (dir / file).string();
    CHECK_THROWS_WITH_AS(infer::load_image_rgb(path), doctest::Contains((path + ": " + what).c_str()), nn::Error);
  };
  fails_with("absent.jpg", "no such image file");
  fails_with("truncated.jpg", "truncated JPEG");
  fails_with("empty.jpg", "empty file");
  fails_with("garbage.jpg", "cannot decode the image");
  fails_with("truncated.png", "cannot decode the image");
  fails_with("zero.png", "cannot decode the image");
  CHECK(infer::load_image_rgb((dir / "good.jpg").string()).shape() == nn::Shape{36, 40, 3});
}

TEST_CASE("data_loader/dataset: every bad sample names list line and file; skip mode reports them") {
  const TempDir dir("loader_bad");
  // Lines 2..5 good; then bad lines: malformed CSV (6), a label that is neither 0 nor 1 (7).
  const std::string list = write_dataset(dir.path(), 4, "s0/rgb.jpg,s0/depth.jpg\ns1/rgb.jpg,s1/depth.jpg,s1/ir.jpg,7\n");
  CHECK_THROWS_WITH_AS(TripletDataset(list, dir.path().string()), doctest::Contains((list + ":6:").c_str()), nn::Error);

  const TripletDataset data(list, dir.path().string(), {.on_bad = infer::OnBadSample::skip});
  REQUIRE(data.size() == 4);
  REQUIRE(data.skipped_lines().size() == 2);
  CHECK(data.skipped_lines()[0].line == 6);
  CHECK(data.skipped_lines()[1].line == 7);
  CHECK(data.label_counts() == std::array<long, 2>{2, 2});
  CHECK(data.load(0)[0].shape() == nn::Shape{36, 40, 3});

  // Now break the images of rows 1 (missing ir), 2 (truncated depth) and 3 (depth of another size).
  fs::remove(dir / "s1/ir.jpg");
  const std::string jpeg = read_bytes(dir / "s2/depth.jpg");
  write_bytes(dir / "s2/depth.jpg", jpeg.substr(0, jpeg.size() / 2));
  write_image(dir / "s3/depth.jpg", 30, 36, 9);
  const auto fails_with = [&](long row, const std::string& what) {
    CHECK_THROWS_WITH_AS(data.load(row), doctest::Contains((list + ":" + std::to_string(row + 2) + ": " + what).c_str()), nn::Error);
  };
  fails_with(1, (dir / "s1/ir.jpg").string() + ": no such image file");
  fails_with(2, (dir / "s2/depth.jpg").string() + ": truncated JPEG");
  fails_with(3, "modality sizes differ: rgb " + (dir / "s3/rgb.jpg").string() + " is 40x36, depth " +
                    (dir / "s3/depth.jpg").string() + " is 30x36");
  const TripletDataset lenient(list, dir.path().string(),
                               {.on_bad = infer::OnBadSample::skip, .allow_size_mismatch = true});
  CHECK(lenient.load(3)[1].shape() == nn::Shape{36, 30, 3});

  // The loader: fail mode stops at the first bad sample's batch; skip mode leaves it out, once.
  LoaderOptions o{.batch_size = 2, .shuffle = false, .drop_last = false, .workers = 2};
  const TripletDataset strict(infer::read_list(list, infer::OnBadSample::skip), dir.path().string());
  Loader failing(strict, o);
  failing.start_epoch(0);
  CHECK_THROWS_WITH_AS(failing.next(), doctest::Contains((list + ":3: ").c_str()), nn::Error);

  Loader loader(data, o);
  for (long epoch = 0; epoch < 2; ++epoch) {
    loader.start_epoch(epoch);
    std::vector<long> rows;
    while (auto batch = loader.next()) {
      CHECK(batch->labels.numel() == batch->size());
      rows.insert(rows.end(), batch->rows.begin(), batch->rows.end());
    }
    CHECK(rows == std::vector<long>{0});
  }
  const auto skipped = loader.skipped();
  REQUIRE(skipped.size() == 5);  // 2 list lines, 3 images: each once over two epochs
  CHECK(skipped[2].line == 3);
  CHECK(skipped[2].reason.find("s1/ir.jpg: no such image file") != std::string::npos);
  CHECK(skipped[4].reason.starts_with("modality sizes differ"));
  const std::string summary = skip_summary(skipped, 6, 3);
  CHECK(summary.starts_with("skipped 5 of 6 samples: " + list + ":6: "));
  CHECK(summary.ends_with("; and 2 more"));
  CHECK(skip_summary({}, 6).empty());
}

TEST_CASE("data_loader/loader: batches depend only on seed and epoch, never on threads") {
  const TempDir dir("loader_order");
  const TripletDataset data(write_dataset(dir.path(), 11), dir.path().string());
  const auto run = [&](int workers, long epoch, LoaderOptions o) {
    o.workers = workers;
    Loader loader(data, o);
    loader.start_epoch(epoch);
    std::vector<Batch> out;
    while (auto b = loader.next()) out.push_back(std::move(*b));
    return out;
  };
  LoaderOptions o{.batch_size = 4, .seed = 5, .augment = AugmentConfig::strong()};
  const auto a = run(0, 1, o), b = run(1, 1, o), c = run(3, 1, o);
  REQUIRE(a.size() == 2);  // 11 samples, drop_last
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].index == static_cast<long>(i));
    CHECK(a[i].rows == b[i].rows);
    CHECK(a[i].rows == c[i].rows);
    CHECK(values(a[i].views[0].rgb) == values(c[i].views[0].rgb));
    CHECK(values(a[i].views[0].ir) == values(b[i].views[0].ir));
    CHECK(a[i].views[0].depth.shape() == nn::Shape{4, 3, 112, 112});
  }

  // A batch's sample is augment() of its row at slot epoch * n + position.
  Loader loader(data, o);
  loader.start_epoch(1);
  const long pos = 5, row = loader.order()[pos];
  CHECK(a[1].rows[1] == row);
  const auto expect = augment(data.load(row), AugmentConfig::strong(), o.norm, 5, 1 * 11 + pos);
  const auto got = values(a[1].views[0].depth);
  CHECK(std::vector<float>(got.begin() + 3 * 112 * 112, got.begin() + 6 * 112 * 112) == values(expect[1]));
  CHECK(a[1].labels.data<std::int64_t>()[1] == data.row(row).label);

  // Epochs and seeds shuffle differently; without drop_last and shuffle every row comes once, in order.
  CHECK(run(1, 2, o)[0].rows != a[0].rows);
  o.seed = 6;
  CHECK(run(1, 1, o)[0].rows != a[0].rows);
  const auto plain = run(2, 0, {.batch_size = 4, .shuffle = false, .drop_last = false});
  REQUIRE(plain.size() == 3);
  CHECK(plain[2].rows == std::vector<long>{8, 9, 10});
  std::multiset<long> seen;
  for (long e = 0; e < 3; ++e)
    for (const Batch& batch : run(2, e, {.batch_size = 3, .drop_last = false}))
      seen.insert(batch.rows.begin(), batch.rows.end());
  for (long r = 0; r < 11; ++r) CHECK(seen.count(r) == 3);
}

TEST_CASE("data_loader/loader: class-balanced sampling and test-time views") {
  const TempDir dir("loader_balance");
  // 2 real (rows 0, 2) among 10: balanced draws still give about half real.
  std::string list = "rgb,depth,ir,label\n";
  write_dataset(dir.path(), 1);
  for (int i = 0; i < 10; ++i) list += std::string("s0/rgb.jpg,s0/depth.jpg,s0/ir.jpg,") + (i == 0 || i == 2 ? "1" : "0") + "\n";
  write_bytes(dir / "skewed.txt", list);
  const TripletDataset data((dir / "skewed.txt").string(), dir.path().string());
  long real = 0, total = 0;
  for (long e = 0; e < 200; ++e)
    for (long r : epoch_order(data, 3, e, true, true)) {
      real += data.row(r).label;
      ++total;
    }
  CHECK(total == 2000);
  CHECK(std::abs(double(real) / double(total) - 0.5) < 0.04);
  CHECK(epoch_order(data, 3, 0, true, true) == epoch_order(data, 3, 0, true, true));

  // Test mode: one tensor triplet per view; the hflip view is the mirror of the plain one.
  Loader loader(data, {.batch_size = 4, .shuffle = false, .drop_last = false, .workers = 1,
                       .views = infer::tta_views("hflip"), .pinned = true});
  loader.start_epoch(0);
  const auto batch = loader.next();
  REQUIRE(batch);
  REQUIRE(batch->views.size() == 2);
  const auto plain = values(batch->views[0].ir), flipped = values(batch->views[1].ir);
  const auto expect = infer::test_transform(data.load(0), loader.options().norm, infer::TestView{0, true, 0.0});
  CHECK(std::vector<float>(flipped.begin(), flipped.begin() + 3 * 112 * 112) == values(expect[2]));
  CHECK(plain != flipped);
  int batches = 1;
  while (loader.next()) ++batches;
  CHECK(batches == 3);
}
