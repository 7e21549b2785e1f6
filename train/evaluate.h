// Scoring a network over a dataset in eval mode: P(real) = softmax(logits)[:, 1] for every test-time view
// (REFERENCE.md §5.1), the mean cross-entropy and accuracy on labelled rows. Both validation during
// training and `hardtune predict` use it, so the two can never disagree on a score.
#pragma once

#include <string>
#include <vector>

#include "models/net.h"
#include "train/data/loader.h"

namespace hardtune {

struct ScoredRows {
  std::vector<std::string> views;           // column names, TestView::name(): crop0, crop0_hflip, ...
  std::vector<long> rows;                   // dataset rows scored, in list order (skipped bad samples absent)
  std::vector<std::vector<double>> scores;  // [i][view] P(real)
  double loss = 0.0;                        // mean cross-entropy of the first view over labelled rows
  double accuracy = 0.0;                    // of (mean score >= 0.5) against the label, labelled rows
  long labelled = 0;
  // The row's score: the mean of its views (a probability average, as ensemble.py).
  double score(std::size_t i) const;
};

// Runs `net` (switched to eval mode) over one epoch of `loader`, which must not shuffle nor draw, and
// must use test-time views. `label` names the progress line ("" = none).
ScoredRows score_dataset(models::MultiModalNet& net, data::Loader& loader, long epoch = 0,
                         const std::string& label = "");

}  // namespace hardtune
