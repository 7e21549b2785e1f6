// Full-size parity of the whole networks against PyTorch, and their timings beside PyTorch's
// (tools/full_size_parity.sh runs both sides; results in bench/README.md).
//   OMP_NUM_THREADS=2 build/bench/model_parity /tmp/hardtune_parity/resnet34_dlas_a.safetensors
//       [--no-timing] [--all-gradients: every tensor's error, worst first] [--repeats N]
//       [--save OUT.safetensors: our logits and gradients, with one file only]
//
// The file comes from tools/full_size_parity.py: one case named after the registry net, its initial
// state_dict, a batch, and PyTorch's f64 train-mode logits, loss, parameter gradients, BN running
// statistics and eval-mode logits on those f32 weights. Here the net is built by name through
// models::build_model (head "linear"), the state is loaded strictly, and one train-mode forward +
// cross-entropy + backward and one eval forward run in f32.
//
// Error measure (as tests/test_ops_parity.cpp and tests/test_models_reference.cpp explain): every tensor
// is the end of long GEMM-shaped reductions whose f32 error scales with the tensor's magnitude, not with
// each element's, so max |ours - ref| / (|ref| + floor) with floor = the RMS of the reference tensor.
// Gradients get at least 1e-3 of the RMS over all the net's reference gradients as floor: a gradient that
// is zero in exact arithmetic (in IR-DLAS, the last BN biases of agg_layer1/2's units and their shortcut
// BN biases) is f64 round-off in the reference and f32 round-off here. Logits are also reported plainly
// relative (no floor). The exit status is 1 when the logits, the eval logits or the loss miss 1e-4
// (SYSTEM.md, whole networks) or the BN statistics miss it.
//
// Gradients are reported, not judged: at full size they are not a smooth function of the f32 rounding.
// The f32 forward drifts ~1e-5 from the f64 one by layer4 (~1e-4 relative on BN outputs), and among the
// millions of PReLU inputs some lie that close to 0, so f32 takes the other slope for one element; that
// element's gradient changes by (1 - a) dy, and train-mode BN spreads it over its channel and everything
// upstream. PyTorch's own f32 step has per-tensor errors of 0.1-0.2 by this measure for that reason (the
// reference script prints them as the yardstick), and replaying one of our sign flips in the f64
// reference (bench/README.md) takes our median per-tensor error from 4e-3 to 1e-4. The reduced-width
// reference tests (tests/test_models_reference.cpp) hold gradients to 1e-3 where no input is that close.
//
// Timings (best of --repeats after one warm-up, 2 threads via OMP_NUM_THREADS): forward in eval mode
// under NoGradGuard, and a training step = train-mode forward + cross-entropy + backward (no optimizer,
// the same as the PyTorch side), at batch 1 and 8, 112x112.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "libnn/autograd/grad_mode.h"
#include "libnn/core/rng.h"
#include "libnn/io/safetensors.h"
#include "libnn/ops/loss.h"
#include "models/registry.h"

namespace {

using nn::index_t;
using nn::Tensor;

constexpr double kLogitsTarget = 1e-4;
constexpr double kGradTarget = 1e-3;  // only counted: see the file-top comment

double rms(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s / static_cast<double>(std::max<std::size_t>(v.size(), 1)));
}

// max |a - e| / (|e| + floor)
double max_rel(const Tensor& actual, const Tensor& expected, double floor) {
  NN_CHECK(actual.shape() == expected.shape(), "shape ", actual.shape(), " vs reference ", expected.shape());
  const auto a = actual.to_vector(), e = expected.to_vector();
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double rel = std::abs(a[i] - e[i]) / (std::abs(e[i]) + floor);
    if (!(rel <= worst)) worst = rel;  // NaN too
  }
  return worst;
}

double scaled_rel(const Tensor& actual, const Tensor& expected, double min_floor = 1e-30) {
  return max_rel(actual, expected, std::max(rms(expected.to_vector()), min_floor));
}

bool check_parity(const nn::io::Safetensors& file, const std::string& name, models::MultiModalNet& net,
                  bool all_gradients, const std::string& save_path) {
  const auto get = [&](const std::string& role) { return file.get(name + "." + role); };
  nn::StateDict init;
  const std::string prefix = name + ".init.";
  for (const auto& [key, t] : file.tensors)
    if (key.starts_with(prefix)) init.emplace_back(key.substr(prefix.size()), t);
  net.load_state_dict(init);  // strict
  const Tensor rgb = get("rgb"), depth = get("depth"), ir = get("ir"), labels = get("labels");

  net.train();
  net.zero_grad();
  const Tensor logits = net.logits(rgb, depth, ir, labels);
  Tensor loss = nn::ops::cross_entropy(logits, labels);
  loss.backward();
  const Tensor ref_logits = get("logits");
  const double logits_plain = max_rel(logits, ref_logits, 0), logits_scaled = scaled_rel(logits, ref_logits);
  const double ref_loss = get("loss").item();
  const double loss_rel = std::abs(loss.item() - ref_loss) / std::abs(ref_loss);

  // Gradients: per tensor, floor = max(its RMS, 1e-3 x the RMS over all gradients).
  double sum_sq = 0, diff_sq = 0;
  index_t count = 0;
  for (const auto& [key, p] : net.named_parameters()) {
    const auto e = get("grad." + key).to_vector();
    NN_CHECK(p.grad().defined(), name, ": no gradient for ", key);
    const auto a = p.grad().to_vector();
    for (std::size_t i = 0; i < e.size(); ++i) sum_sq += e[i] * e[i], diff_sq += (a[i] - e[i]) * (a[i] - e[i]);
    count += static_cast<index_t>(e.size());
  }
  const double global_floor = 1e-3 * std::sqrt(sum_sq / static_cast<double>(count));
  struct Entry {
    double err;
    std::string key;
  };
  std::vector<Entry> grads;
  for (const auto& [key, p] : net.named_parameters())
    grads.push_back({scaled_rel(p.grad(), get("grad." + key), global_floor), key});
  std::sort(grads.begin(), grads.end(), [](const Entry& a, const Entry& b) { return a.err > b.err; });
  const double grad_median = grads[grads.size() / 2].err;
  const auto above = std::count_if(grads.begin(), grads.end(), [](const Entry& g) { return g.err > kGradTarget; });

  if (!save_path.empty()) {  // ours, for a closer look in Python
    nn::io::NamedTensors out{{"logits", logits.detach()}};
    for (const auto& [key, p] : net.named_parameters()) out.emplace_back("grad." + key, p.grad());
    nn::io::save_safetensors(save_path, out);
  }

  double stats = 0;
  for (const auto& [key, b] : net.named_buffers())
    if (b.dtype() != nn::DType::i64) stats = std::max(stats, scaled_rel(b, get("stats." + key)));

  net.eval();
  double eval_plain = 0, eval_scaled = 0;
  {
    nn::NoGradGuard no_grad;
    const Tensor eval_logits = net.logits(rgb, depth, ir);
    eval_plain = max_rel(eval_logits, get("eval_logits"), 0);
    eval_scaled = scaled_rel(eval_logits, get("eval_logits"));
  }

  std::printf("%s: %lld params, batch %lld\n", name.c_str(), static_cast<long long>(net.num_parameters()),
              static_cast<long long>(rgb.size(0)));
  std::printf("  train logits  max rel %.3g (RMS floor %.3g), target %.0e\n", logits_plain, logits_scaled,
              kLogitsTarget);
  std::printf("  loss          rel %.3g (ours %.9f, ref %.9f)\n", loss_rel, loss.item(), ref_loss);
  std::printf("  gradients     %zu tensors: worst %.3g (%s), median %.3g, %lld above %.0e; "
              "all-gradient relative L2 %.3g\n",
              grads.size(), grads[0].err, grads[0].key.c_str(), grad_median, static_cast<long long>(above),
              kGradTarget, std::sqrt(diff_sq / sum_sq));
  for (std::size_t i = 1; i < (all_gradients ? grads.size() : std::min<std::size_t>(5, grads.size())); ++i)
    std::printf("                next %.3g (%s)\n", grads[i].err, grads[i].key.c_str());
  std::printf("  BN stats      worst %.3g (RMS floor)\n", stats);
  std::printf("  eval logits   max rel %.3g (RMS floor %.3g)\n", eval_plain, eval_scaled);
  const bool ok = logits_scaled <= kLogitsTarget && eval_scaled <= kLogitsTarget && loss_rel <= kLogitsTarget &&
                  stats <= kLogitsTarget;
  std::printf("  %s\n", ok ? "PASS (logits, loss, BN stats, eval logits <= 1e-4)" : "FAIL: a 1e-4 target is missed");
  return ok;
}

template <typename F>
double best_ms(int repeats, F&& f) {
  f();  // warm-up
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

void time_net(const std::string& name, models::MultiModalNet& net, int repeats) {
  nn::Generator gen(1);
  for (index_t batch : {1, 8}) {
    const nn::Shape shape{batch, 3, 112, 112};
    const Tensor rgb = Tensor::normal(shape, 0, 1, gen), depth = Tensor::normal(shape, 0, 1, gen),
                 ir = Tensor::normal(shape, 0, 1, gen);
    std::vector<std::int64_t> l(static_cast<std::size_t>(batch));
    for (index_t i = 0; i < batch; ++i) l[static_cast<std::size_t>(i)] = i % 2;
    const Tensor labels = Tensor::from_labels(l);
    const double forward = best_ms(repeats, [&] {
      net.eval();
      nn::NoGradGuard no_grad;
      (void)net.logits(rgb, depth, ir).to_vector();
    });
    const double train = best_ms(repeats, [&] {
      net.train();
      net.zero_grad();
      nn::ops::cross_entropy(net.logits(rgb, depth, ir, labels), labels).backward();
    });
    std::printf("ours %s batch %lld: forward %.1f ms, train step %.1f ms\n", name.c_str(),
                static_cast<long long>(batch), forward, train);
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> files;
  bool timing = true, all_gradients = false;
  std::string save_path;
  int repeats = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--no-timing") {
      timing = false;
    } else if (a == "--all-gradients") {
      all_gradients = true;
    } else if (a == "--save" && i + 1 < argc) {
      save_path = argv[++i];
    } else if (a == "--repeats" && i + 1 < argc) {
      repeats = std::atoi(argv[++i]);
    } else if (a.starts_with("-")) {
      std::fprintf(stderr, "usage: %s FILE.safetensors... [--no-timing] [--all-gradients] [--save OUT] [--repeats N]\n",
                 argv[0]);
      return 2;
    } else {
      files.push_back(a);
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: %s FILE.safetensors... [--no-timing] [--all-gradients] [--save OUT] [--repeats N]\n",
                 argv[0]);
    return 2;
  }
  bool ok = true;
  try {
    for (const auto& path : files) {
      std::string name;
      {
        const nn::io::Safetensors file = nn::io::load_safetensors(path);
        NN_CHECK(file.metadata.size() == 1, path, ": expected one case, found ", file.metadata.size());
        name = file.metadata.begin()->first;
        auto net = models::build_model(name, {.head = "linear"});
        ok = check_parity(file, name, *net, all_gradients, save_path) && ok;
      }  // frees the reference tensors before timing
      if (timing) {
        auto net = models::build_model(name, {.head = "linear"});
        time_net(name, *net, repeats);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "model_parity: %s\n", e.what());
    return 2;
  }
  return ok ? 0 : 1;
}
