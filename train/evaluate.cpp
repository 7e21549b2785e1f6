#include "train/evaluate.h"

#include <cmath>
#include <numeric>

#include "libnn/autograd/grad_mode.h"
#include "libnn/core/check.h"
#include "train/progress.h"

namespace hardtune {

double ScoredRows::score(std::size_t i) const {
  const std::vector<double>& v = scores.at(i);
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

ScoredRows score_dataset(models::MultiModalNet& net, data::Loader& loader, long epoch, const std::string& label) {
  const data::LoaderOptions& o = loader.options();
  NN_CHECK(!o.shuffle && !o.balanced && !o.augment, "score_dataset: the loader must give every row once, in order, "
           "with test-time views");
  net.freeze_for_inference();  // until the trainer's next train(): the weights stay put while scoring
  nn::NoGradGuard no_grad;
  ScoredRows out;
  for (const infer::TestView& v : o.views) out.views.push_back(v.name());
  std::unique_ptr<Progress> progress;
  if (!label.empty()) progress = std::make_unique<Progress>(label, loader.batches_per_epoch(), "batch");
  double loss_sum = 0.0;
  long correct = 0;
  const nn::Device device = net.device();
  loader.start_epoch(epoch);
  while (auto batch = loader.next()) {
    const long n = batch->size();
    std::vector<std::vector<double>> rows(static_cast<std::size_t>(n));
    for (std::size_t v = 0; v < batch->views.size(); ++v) {
      const data::NetInputs& x = batch->views[v];
      const nn::Tensor logits =
          net.logits(x.rgb.to(device), x.depth.to(device), x.ir.to(device)).to(nn::Device::cpu()).contiguous();
      NN_CHECK(logits.dim() == 2 && logits.size(1) == 2, "score_dataset: expected (N, 2) logits, got ", logits.shape());
      const float* l = logits.data<float>();
      for (long i = 0; i < n; ++i) {
        const double fake = l[2 * i], real = l[2 * i + 1];
        NN_CHECK(std::isfinite(fake) && std::isfinite(real), loader.dataset().list().path, ':',
                 loader.dataset().row(batch->rows[static_cast<std::size_t>(i)]).line, ": the network gave non-finite logits");
        rows[static_cast<std::size_t>(i)].push_back(1.0 / (1.0 + std::exp(fake - real)));
        const std::int64_t y = batch->labels.data<std::int64_t>()[i];
        if (v == 0 && (y == 0 || y == 1)) {
          // log-sum-exp cross-entropy of the true class
          const double top = std::max(fake, real);
          loss_sum += top + std::log(std::exp(fake - top) + std::exp(real - top)) - (y == 1 ? real : fake);
          ++out.labelled;
        }
      }
    }
    for (long i = 0; i < n; ++i) {
      out.rows.push_back(batch->rows[static_cast<std::size_t>(i)]);
      out.scores.push_back(std::move(rows[static_cast<std::size_t>(i)]));
      const std::int64_t y = batch->labels.data<std::int64_t>()[i];
      if (y == 0 || y == 1) correct += (out.score(out.scores.size() - 1) >= 0.5) == (y == 1);
    }
    if (progress) progress->update(batch->index + 1);
  }
  if (out.labelled > 0) {
    out.loss = loss_sum / static_cast<double>(out.labelled);
    out.accuracy = static_cast<double>(correct) / static_cast<double>(out.labelled);
  }
  return out;
}

}  // namespace hardtune
