#include "train/data/loader.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <numeric>

#include "libnn/core/check.h"
#include "libnn/core/rng.h"

namespace hardtune::data {

namespace {

// The order stream is keyed apart from the augmentation stream (which uses the seed itself).
constexpr std::uint64_t kOrderKey = 0x6F72646572ull;  // "order"

// Uniform integer in [0, n) from one Philox block: a 53-bit uniform in [0, 1), scaled (bias < n / 2^53).
std::uint64_t uniform_below(const nn::Generator& gen, std::uint64_t counter, std::uint64_t n) {
  const auto w = gen.block(counter);
  const double u = static_cast<double>(((std::uint64_t{w[0]} << 32) | w[1]) >> 11) * 0x1p-53;
  return std::min(n - 1, static_cast<std::uint64_t>(u * static_cast<double>(n)));
}

// "<list>:<line>: reason" -> "reason": the BadLine carries file and line itself.
std::string without_prefix(const std::string& message, const std::string& file, long line) {
  const std::string prefix = nn::str(file, ':', line, ": ");
  return message.starts_with(prefix) ? message.substr(prefix.size()) : message;
}

}  // namespace

std::vector<long> epoch_order(const TripletDataset& dataset, std::uint64_t seed, long epoch, bool shuffle,
                              bool balanced) {
  const long n = dataset.size();
  const nn::Generator gen(seed ^ (kOrderKey + static_cast<std::uint64_t>(epoch) * 0x9E3779B97F4A7C15ull));
  std::vector<long> order(static_cast<std::size_t>(n));
  if (balanced) {
    std::array<std::vector<long>, 2> by_class;
    for (long i = 0; i < n; ++i)
      if (const int label = dataset.row(i).label; label == 0 || label == 1)
        by_class[static_cast<std::size_t>(label)].push_back(i);
    NN_CHECK(!by_class[0].empty() || !by_class[1].empty(), dataset.list().path,
             ": class-balanced sampling needs labels (1 real, 0 fake)");
    for (long k = 0; k < n; ++k) {
      // A missing class gives its half to the other, as zero weights would in torch.
      const auto u = static_cast<std::uint64_t>(k);
      const std::size_t c = by_class[0].empty() ? 1 : by_class[1].empty() ? 0 : uniform_below(gen, 2 * u, 2);
      const auto& pool = by_class[c];
      order[static_cast<std::size_t>(k)] = pool[uniform_below(gen, 2 * u + 1, pool.size())];
    }
    return order;
  }
  std::iota(order.begin(), order.end(), 0L);
  if (shuffle)  // Fisher-Yates, one counter per swap
    for (long i = n - 1; i > 0; --i)
      std::swap(order[static_cast<std::size_t>(i)],
                order[uniform_below(gen, static_cast<std::uint64_t>(i), static_cast<std::uint64_t>(i) + 1)]);
  return order;
}

Loader::Loader(const TripletDataset& dataset, LoaderOptions options) : dataset_(dataset), options_(std::move(options)) {
  NN_CHECK(options_.batch_size > 0, "loader: batch size must be positive, got ", options_.batch_size);
  NN_CHECK(options_.workers >= 0 && options_.prefetch >= 0, "loader: negative workers or prefetch");
  NN_CHECK(options_.augment || !options_.views.empty(), "loader: no augmentation and no test views");
  NN_CHECK(!options_.augment || options_.views.size() == 1, "loader: training batches have exactly one view");
  NN_CHECK(dataset_.size() > 0, dataset_.list().path, ": the list has no samples");
}

Loader::~Loader() { stop(); }

long Loader::batches_per_epoch() const {
  const long n = dataset_.size(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

void Loader::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  space_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
}

void Loader::start_epoch(long epoch) {
  stop();
  epoch_ = epoch;
  order_ = epoch_order(dataset_, options_.seed, epoch, options_.shuffle, options_.balanced);
  ready_.clear();
  failed_.clear();
  next_to_build_ = next_to_take_ = 0;
  stopping_ = false;
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { work(); });
}

void Loader::work() {
  // Below the trainer's compute threads: on a machine the training step already fills, decoding takes the
  // cycles its threads leave idle instead of preempting them mid-step (which stalls every OpenMP barrier).
  if (options_.nice > 0) ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), options_.nice);
  const long total = batches_per_epoch();
  const long window = options_.prefetch > 0 ? options_.prefetch : 2L * options_.workers;
  for (;;) {
    long index;
    {
      std::unique_lock lock(mutex_);
      space_cv_.wait(lock, [&] { return stopping_ || next_to_build_ >= total || next_to_build_ < next_to_take_ + window; });
      if (stopping_ || next_to_build_ >= total) return;
      index = next_to_build_++;
    }
    try {
      Batch batch = build(index);
      std::lock_guard lock(mutex_);
      ready_.emplace(index, std::move(batch));
    } catch (...) {
      std::lock_guard lock(mutex_);
      failed_.emplace(index, std::current_exception());
      next_to_build_ = total;  // the epoch ends at this error: build nothing more
    }
    ready_cv_.notify_all();
  }
}

std::optional<Batch> Loader::next() {
  NN_CHECK(epoch_ >= 0, "loader: next() before start_epoch()");
  const long total = batches_per_epoch();
  for (;;) {
    std::optional<Batch> batch;
    if (options_.workers == 0) {
      if (next_to_take_ >= total) return std::nullopt;
      batch = build(next_to_take_++);
    } else {
      std::unique_lock lock(mutex_);
      if (next_to_take_ >= total) return std::nullopt;
      const long index = next_to_take_;
      ready_cv_.wait(lock, [&] { return ready_.contains(index) || failed_.contains(index); });
      if (auto f = failed_.find(index); f != failed_.end()) {
        next_to_take_ = total;
        std::rethrow_exception(f->second);
      }
      batch = std::move(ready_.at(index));
      ready_.erase(index);
      ++next_to_take_;
    }
    space_cv_.notify_all();
    if (batch->size() > 0) return batch;  // a batch of bad samples only is passed over
  }
}

Batch Loader::build(long index) {
  Batch batch;
  batch.epoch = epoch_;
  batch.index = index;
  const long b = options_.batch_size, n = static_cast<long>(order_.size());
  const long first = index * b, last = std::min(n, first + b);
  std::vector<std::vector<std::array<nn::Tensor, 3>>> samples;  // [sample][view]
  for (long pos = first; pos < last; ++pos) {
    const long row = order_[static_cast<std::size_t>(pos)];
    {
      std::lock_guard lock(mutex_);
      if (bad_rows_.contains(row)) continue;
    }
    std::array<nn::Tensor, 3> images;
    try {
      images = dataset_.load(row);
    } catch (const nn::Error& e) {
      if (dataset_.options().on_bad == infer::OnBadSample::fail) throw;
      const infer::ListRow& r = dataset_.row(row);
      std::lock_guard lock(mutex_);
      if (bad_rows_.insert(row).second) skipped_.push_back({dataset_.list().path, r.line, without_prefix(e.what(), dataset_.list().path, r.line)});
      continue;
    }
    std::vector<std::array<nn::Tensor, 3>> views;
    if (options_.augment) {
      // Sample slots by epoch position: distinct every epoch, and for rows drawn twice by balanced sampling.
      const auto sample_index = static_cast<std::uint64_t>(epoch_) * static_cast<std::uint64_t>(n) + static_cast<std::uint64_t>(pos);
      views.push_back(augment(images, *options_.augment, options_.norm, options_.seed, sample_index));
    } else {
      for (const infer::TestView& v : options_.views) views.push_back(infer::test_transform(images, options_.norm, v));
    }
    samples.push_back(std::move(views));
    batch.rows.push_back(row);
  }

  const auto count = static_cast<nn::index_t>(samples.size());
  batch.labels = nn::Tensor::empty({count}, nn::DType::i64);
  for (nn::index_t i = 0; i < count; ++i)
    batch.labels.data<std::int64_t>()[i] = dataset_.row(batch.rows[static_cast<std::size_t>(i)]).label;
  const std::size_t n_views = options_.augment ? 1 : options_.views.size();
  for (std::size_t v = 0; v < n_views; ++v) {
    std::array<nn::Tensor, 3> stacked;
    for (std::size_t m = 0; m < 3; ++m) {
      const nn::Shape one = count ? samples[0][v][m].shape() : nn::Shape{3, infer::kCropSide, infer::kCropSide};
      nn::Shape shape{count};
      for (nn::index_t d : one) shape.push_back(d);
      stacked[m] = options_.pinned ? nn::Tensor::empty_pinned(shape) : nn::Tensor::empty(shape);
      const std::size_t bytes = static_cast<std::size_t>(one.numel()) * sizeof(float);
      for (nn::index_t i = 0; i < count; ++i)
        std::memcpy(stacked[m].data<float>() + i * one.numel(), samples[static_cast<std::size_t>(i)][v][m].contiguous().data<float>(), bytes);
    }
    batch.views.push_back({stacked[0], stacked[1], stacked[2]});
  }
  return batch;
}

std::vector<infer::BadLine> Loader::skipped() const {
  std::vector<infer::BadLine> all = dataset_.skipped_lines();
  std::lock_guard lock(mutex_);
  std::vector<infer::BadLine> images = skipped_;
  // Workers meet bad images in timing order; report them in file order.
  std::ranges::sort(images, {}, &infer::BadLine::line);
  all.insert(all.end(), images.begin(), images.end());
  return all;
}

}  // namespace hardtune::data
