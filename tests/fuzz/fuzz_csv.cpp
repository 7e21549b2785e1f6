// libFuzzer target: the CSV readers of list files and score files (infer/data/csv.h underneath both), fed
// the same text. Only nn::Error may come out; rows that are accepted must satisfy what the readers promise.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "infer/data/lists.h"
#include "infer/scores.h"
#include "libnn/core/check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const auto mode : {infer::OnBadSample::fail, infer::OnBadSample::skip}) {
    try {
      const infer::ListFile list = infer::parse_list(text, "fuzz input", mode);
      for (const infer::ListRow& r : list.rows)
        if (r.rgb.empty() || r.depth.empty() || r.ir.empty() || r.label < -1 || r.label > 1) __builtin_trap();
      // What we write, we read back.
      if (infer::parse_list(infer::format_list(list.rows, list.has_label), "round trip").rows.size() != list.rows.size())
        __builtin_trap();
    } catch (const nn::Error&) {
    }
  }
  try {
    const infer::ScoreTable table = infer::parse_scores(text, "fuzz input");
    for (const infer::ScoreRow& r : table.rows)
      if (!std::isfinite(r.score) || r.view_scores.size() != table.views.size()) __builtin_trap();
  } catch (const nn::Error&) {
  }
  return 0;
}
