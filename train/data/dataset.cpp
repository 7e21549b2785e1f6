#include "train/data/dataset.h"


#include "infer/image.h"
#include "libnn/core/check.h"

namespace hardtune::data {

TripletDataset::TripletDataset(const std::string& list_path, std::string root, DatasetOptions options)
    : TripletDataset(infer::read_list(list_path, options.on_bad), std::move(root), options) {}

TripletDataset::TripletDataset(infer::ListFile list, std::string root, DatasetOptions options)
    : list_(std::move(list)), root_(std::move(root)), options_(options) {}

std::array<long, 2> TripletDataset::label_counts() const {
  std::array<long, 2> counts{0, 0};
  for (const infer::ListRow& r : list_.rows)
    if (r.label == 0 || r.label == 1) ++counts[static_cast<std::size_t>(r.label)];
  return counts;
}

std::array<std::string, 3> TripletDataset::paths(long i) const {
  const infer::ListRow& r = row(i);
  return {infer::join_path(root_, r.rgb), infer::join_path(root_, r.depth), infer::join_path(root_, r.ir)};
}

std::array<nn::Tensor, 3> TripletDataset::load(long i) const {
  const infer::ListRow& r = row(i);
  const std::array<std::string, 3> files = paths(i);
  std::array<nn::Tensor, 3> images;
  try {
    for (std::size_t m = 0; m < 3; ++m) images[m] = infer::load_image_rgb(files[m]);
  } catch (const nn::Error& e) {
    throw nn::Error(nn::str(list_.path, ':', r.line, ": ", e.what()));
  }
  if (!options_.allow_size_mismatch) {
    const auto side = [&](std::size_t m) { return nn::str(images[m].size(1), 'x', images[m].size(0)); };
    NN_CHECK(images[0].shape() == images[1].shape() && images[0].shape() == images[2].shape(), list_.path, ':',
             r.line, ": modality sizes differ: rgb ", files[0], " is ", side(0), ", depth ", files[1], " is ", side(1),
             ", ir ", files[2], " is ", side(2),
             " (resize depth and ir to the rgb size as the reference's data_preparing.py did, or allow mismatches)");
  }
  return images;
}

std::string skip_summary(const std::vector<infer::BadLine>& skipped, long total, std::size_t shown) {
  if (skipped.empty()) return "";
  std::string s = nn::str("skipped ", skipped.size(), " of ", total, " samples: ");
  for (std::size_t i = 0; i < skipped.size() && i < shown; ++i) s += (i ? "; " : "") + skipped[i].where();
  if (skipped.size() > shown) s += nn::str("; and ", skipped.size() - shown, " more");
  return s;
}

}  // namespace hardtune::data
