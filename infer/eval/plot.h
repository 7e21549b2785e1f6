// ROC and DET charts of score files, drawn twice from one description: as hand-written SVG (for the HTML
// report) and rasterised by our own line and 5x7-font routines into a PNG (stb_image_write).
//
// ROC: TPR (linear) against FPR on a log axis from 1e-5 to 1, so TPR@FPR = 1e-4 is readable; points with
// FPR 0 sit on the left edge. DET: FNR against FPR, both on probit (normal deviate) axes from 0.005 % to
// 50 %, the ISO/IEC 19795 convention; rates outside the range are clamped to its edges.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "infer/eval/metrics.h"

namespace infer::eval {

enum class Scale { linear, log10, probit };

struct Series {
  std::string name;
  std::vector<double> x, y;  // data coordinates
};

struct Chart {
  std::string title, x_label, y_label;
  Scale x_scale = Scale::linear, y_scale = Scale::linear;
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
  std::vector<std::pair<double, std::string>> x_ticks, y_ticks;
  bool legend_bottom = true;  // legend in the bottom-right corner (ROC) or the top-right (DET)
  std::vector<Series> series;
};

// One series per curve, drawn through every point given (pass full curves: roc_curve(..., false)).
Chart roc_chart(const std::vector<std::string>& names, const std::vector<RocCurve>& curves);
Chart det_chart(const std::vector<std::string>& names, const std::vector<RocCurve>& curves);

std::string chart_svg(const Chart& chart, int width = 640, int height = 480);
std::vector<std::uint8_t> rasterize_chart(const Chart& chart, int width = 640, int height = 480);  // RGB rows
void write_chart_png(const std::string& path, const Chart& chart, int width = 640, int height = 480);

// The standard normal quantile (Acklam's rational approximation refined by one Halley step, ~1e-15).
// &, <, >, " as entities: text for SVG and HTML alike.
std::string xml_escape(std::string_view s);

double probit(double p);

}  // namespace infer::eval
