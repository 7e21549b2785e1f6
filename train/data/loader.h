// The prefetching loader: worker threads decode and transform whole batches ahead of the trainer into a
// bounded window of ready batches, handed out strictly in order.
//
// What a batch holds depends only on (seed, epoch, batch index): the sample order is a per-epoch seeded
// permutation (or class-balanced draw), and each sample's augmentation draws from its own Philox slots
// (augment.h), so the thread count and timing never change a batch. Bad images fail the epoch with the
// file and list line, or, with OnBadSample::skip, leave their batch one sample short and are reported once.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "infer/transforms.h"
#include "train/data/augment.h"
#include "train/data/dataset.h"

namespace hardtune::data {

struct LoaderOptions {
  long batch_size = 32;
  bool shuffle = true;
  bool drop_last = true;  // the reference's effective setting (REFERENCE.md §3.3)
  // Draw each epoch's samples with replacement so that both classes are equally likely, as torch's
  // WeightedRandomSampler with weights 1 / class count (the reference's fake_class_weight != 1 path).
  bool balanced = false;
  std::uint64_t seed = 0;
  int workers = 2;   // decoding threads; 0 = build each batch in next() on the calling thread
  int prefetch = 0;  // ready batches kept ahead; 0 = two per worker
  // Training: the random STRONG / WEAK pipeline. Without it, the test transform of each view below.
  std::optional<AugmentConfig> augment = std::nullopt;
  std::vector<infer::TestView> views{infer::TestView{}};
  infer::Normalization norm = infer::Normalization::cifar();
  bool pinned = false;  // batch memory page-locked (when a GPU is present) for fast host-to-device copies
  int nice = 10;        // workers' scheduling niceness (0 = as the caller)
};

// The three network inputs, each f32 (N, 3, 112, 112), contiguous.
struct NetInputs {
  nn::Tensor rgb, depth, ir;
};

struct Batch {
  long epoch = 0, index = 0;  // index within the epoch
  std::vector<long> rows;     // dataset rows, in batch order (bad samples already left out)
  nn::Tensor labels;          // i64 (N): 1 real, 0 fake, -1 for an unlabelled list
  std::vector<NetInputs> views; // one per LoaderOptions::views (training: exactly one)
  long size() const { return static_cast<long>(rows.size()); }
};

class Loader {
 public:
  Loader(const TripletDataset& dataset, LoaderOptions options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  long batches_per_epoch() const;
  // Begins epoch `epoch` (any order, any number of times): computes its sample order and starts the
  // workers. A running epoch is abandoned.
  void start_epoch(long epoch);
  // The next batch of the current epoch in order, waiting for it if needed; nullopt at the epoch's end.
  // A worker's error (OnBadSample::fail) is rethrown here, at the batch it belongs to.
  std::optional<Batch> next();

  // The epoch's sample rows, in order (after shuffling or balanced drawing; before skipping).
  const std::vector<long>& order() const { return order_; }
  // Samples left out so far (list lines at construction, then images in the order they were met).
  std::vector<infer::BadLine> skipped() const;
  const TripletDataset& dataset() const { return dataset_; }
  const LoaderOptions& options() const { return options_; }

 private:
  Batch build(long index);
  void work();
  void stop();

  const TripletDataset& dataset_;
  LoaderOptions options_;
  long epoch_ = -1;
  std::vector<long> order_;

  // Shared with the workers.
  mutable std::mutex mutex_;
  std::condition_variable ready_cv_, space_cv_;
  std::map<long, Batch> ready_;                 // built, not yet taken
  std::map<long, std::exception_ptr> failed_;   // batch index -> its error
  long next_to_build_ = 0, next_to_take_ = 0;
  bool stopping_ = false;
  std::set<long> bad_rows_;                     // known bad: skipped without decoding again
  std::vector<infer::BadLine> skipped_;
  std::vector<std::thread> workers_;
};

// The sample rows of one epoch: 0..n-1 shuffled by (seed, epoch), or in order; with `balanced`, n draws
// with replacement giving each present class half the mass.
std::vector<long> epoch_order(const TripletDataset& dataset, std::uint64_t seed, long epoch, bool shuffle,
                              bool balanced);

}  // namespace hardtune::data
