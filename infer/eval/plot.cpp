// Charts (plot.h): the chart description, its SVG, and a small rasteriser (Bresenham lines with a square
// brush, a 5x7 bitmap font) for the PNG. Both renderings share one layout so they show the same picture.
#include "infer/eval/plot.h"

#include <stb/stb_image_write.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "libnn/core/check.h"
#include "libnn/io/atomic_file.h"

namespace infer::eval {
namespace {

constexpr std::array<std::uint32_t, 8> kPalette = {0x1f77b4, 0xd62728, 0x2ca02c, 0xff7f0e,
                                                   0x9467bd, 0x8c564b, 0xe377c2, 0x17becf};

// Plot area inside the image; left margin for tick labels, bottom for tick labels and the x label.
struct Frame {
  double left, top, width, height;
  const Chart* chart;

  static double transform(double v, Scale s) {
    switch (s) {
      case Scale::log10: return std::log10(v);
      case Scale::probit: return probit(v);
      case Scale::linear: break;
    }
    return v;
  }
  static double along(double v, double lo, double hi, Scale s) {
    v = std::clamp(v, lo, hi);
    return (transform(v, s) - transform(lo, s)) / (transform(hi, s) - transform(lo, s));
  }
  double px(double x) const { return left + width * along(x, chart->x_min, chart->x_max, chart->x_scale); }
  double py(double y) const { return top + height * (1 - along(y, chart->y_min, chart->y_max, chart->y_scale)); }
};

Frame frame_of(const Chart& c, int w, int h) { return {72, 36, w - 72.0 - 18, h - 36.0 - 52, &c}; }


std::string hex_color(std::uint32_t rgb) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%06x", rgb);
  return buf;
}

std::vector<std::pair<double, std::string>> probit_ticks() {
  return {{1e-4, "0.01%"}, {1e-3, "0.1%"}, {1e-2, "1%"}, {5e-2, "5%"}, {0.2, "20%"}, {0.5, "50%"}};
}

// 5x7 glyphs, rows top to bottom, '#' = ink. Lower case is drawn as upper case.
struct Glyph {
  char ch;
  const char* rows;  // 35 characters
};
constexpr Glyph kFont[] = {
    {'0', ".###.#...##..###.#.###..##...#.###."}, {'1', "..#...##....#....#....#....#...###."},
    {'2', ".###.#...#....#...#...#...#...#####"}, {'3', "#####...#...#.....#.....##...#.###."},
    {'4', "...#...##..#.#.#..#.#####...#....#."}, {'5', "######....####.....#....##...#.###."},
    {'6', "..##..#...#....####.#...##...#.###."}, {'7', "#####....#...#...#...#....#....#..."},
    {'8', ".###.#...##...#.###.#...##...#.###."}, {'9', ".###.#...##...#.####....#...#..##.."},
    {'A', ".###.#...##...#######...##...##...#"}, {'B', "####.#...##...#####.#...##...#####."},
    {'C', ".###.#...##....#....#....#...#.###."}, {'D', "###..#..#.#...##...##...##..#.###.."},
    {'E', "######....#....####.#....#....#####"}, {'F', "######....#....####.#....#....#...."},
    {'G', ".###.#...##....#.####...##...#.####"}, {'H', "#...##...##...#######...##...##...#"},
    {'I', ".###...#....#....#....#....#...###."}, {'J', "..###...#....#....#....#.#..#..##.."},
    {'K', "#...##..#.#.#..##...#.#..#..#.#...#"}, {'L', "#....#....#....#....#....#....#####"},
    {'M', "#...###.###.#.##.#.##...##...##...#"}, {'N', "#...##...###..##.#.##..###...##...#"},
    {'O', ".###.#...##...##...##...##...#.###."}, {'P', "####.#...##...#####.#....#....#...."},
    {'Q', ".###.#...##...##...##.#.##..#..##.#"}, {'R', "####.#...##...#####.#.#..#..#.#...#"},
    {'S', ".#####....#.....###.....#....#####."}, {'T', "#####..#....#....#....#....#....#.."},
    {'U', "#...##...##...##...##...##...#.###."}, {'V', "#...##...##...##...##...#.#.#...#.."},
    {'W', "#...##...##...##.#.##.#.##.#.#.#.#."}, {'X', "#...##...#.#.#...#...#.#.#...##...#"},
    {'Y', "#...##...#.#.#...#....#....#....#.."}, {'Z', "#####....#...#...#...#...#....#####"},
    {'.', "..........................##...##.."}, {'-', "...............#####..............."},
    {'%', "##...##..#...#...#...#...#..##...##"}, {'@', ".###.#...#....#.##.##.#.##.#.#.###."},
    {'(', "...#...#...#....#....#.....#.....#."}, {')', ".#.....#.....#....#....#...#...#..."},
    {'_', "..............................#####"}, {'/', ".........#...#...#...#...#........."},
    {',', ".....................##....#...#..."}, {':', "......##...##........##...##......."},
    {'=', "..........#####.....#####.........."}, {'+', ".......#....#..#####..#....#......."},
    {'#', ".#.#..#.#.#####.#.#.#####.#.#..#.#."}, {'<', "...#...#...#...#.....#.....#.....#."},
    {'>', ".#.....#.....#.....#...#...#...#..."},
};

const char* glyph(char ch) {
  ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  for (const auto& g : kFont)
    if (g.ch == ch) return g.rows;
  return nullptr;
}

class Canvas {
 public:
  Canvas(int w, int h) : w_(w), h_(h), pixels_(static_cast<std::size_t>(w) * h * 3, 255) {}

  void dot(int x, int y, std::uint32_t rgb) {
    if (x < 0 || y < 0 || x >= w_ || y >= h_) return;
    std::uint8_t* p = &pixels_[(static_cast<std::size_t>(y) * w_ + x) * 3];
    p[0] = static_cast<std::uint8_t>(rgb >> 16), p[1] = static_cast<std::uint8_t>(rgb >> 8), p[2] = static_cast<std::uint8_t>(rgb);
  }
  // Bresenham's line, each step stamping a brush x brush square.
  void line(double x0d, double y0d, double x1d, double y1d, std::uint32_t rgb, int brush = 1) {
    int x0 = static_cast<int>(std::lround(x0d)), y0 = static_cast<int>(std::lround(y0d));
    const int x1 = static_cast<int>(std::lround(x1d)), y1 = static_cast<int>(std::lround(y1d));
    const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (;;) {
      for (int by = 0; by < brush; ++by)
        for (int bx = 0; bx < brush; ++bx) dot(x0 + bx - brush / 2, y0 + by - brush / 2, rgb);
      if (x0 == x1 && y0 == y1) break;
      const int e2 = 2 * err;
      if (e2 >= dy) err += dy, x0 += sx;
      if (e2 <= dx) err += dx, y0 += sy;
    }
  }
  void fill(int x0, int y0, int x1, int y1, std::uint32_t rgb) {
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) dot(x, y, rgb);
  }
  static int text_width(std::string_view s, int scale) { return static_cast<int>(s.size()) * 6 * scale; }
  // anchor: 0 left, 1 centre, 2 right; y is the glyphs' top.
  void text(double xd, double yd, std::string_view s, int anchor, std::uint32_t rgb, int scale = 1) {
    int x = static_cast<int>(std::lround(xd)) - anchor * text_width(s, scale) / 2;
    const int y = static_cast<int>(std::lround(yd));
    for (char ch : s) {
      if (const char* rows = glyph(ch))
        for (int r = 0; r < 7; ++r)
          for (int c = 0; c < 5; ++c)
            if (rows[r * 5 + c] == '#') fill(x + c * scale, y + r * scale, x + (c + 1) * scale, y + (r + 1) * scale, rgb);
      x += 6 * scale;
    }
  }
  std::vector<std::uint8_t> take() { return std::move(pixels_); }

 private:
  int w_, h_;
  std::vector<std::uint8_t> pixels_;
};

void append_bytes(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<std::size_t>(size));
}

}  // namespace

double probit(double p) {
  NN_CHECK(p > 0 && p < 1, "probit: p = ", p, " is outside (0, 1)");
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                                 1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                                 6.680131188771972e+01, -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                                 -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                 3.754408661907416e+00};
  constexpr double p_low = 0.02425;
  double x;
  if (p < p_low || p > 1 - p_low) {
    const double q = std::sqrt(-2 * std::log(p < p_low ? p : 1 - p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    if (p > 1 - p_low) x = -x;
  } else {
    const double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  }
  // One Halley step brings the 1e-9 approximation to full double precision.
  const double e = 0.5 * std::erfc(-x / std::sqrt(2.0)) - p;
  const double u = e * std::sqrt(2 * M_PI) * std::exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

Chart roc_chart(const std::vector<std::string>& names, const std::vector<RocCurve>& curves) {
  Chart c;
  c.title = "ROC";
  c.x_label = "FPR (fakes accepted)";
  c.y_label = "TPR (reals accepted)";
  c.x_scale = Scale::log10;
  c.x_min = 1e-5;
  c.x_max = 1;
  c.x_ticks = {{1e-5, "1e-5"}, {1e-4, "1e-4"}, {1e-3, "1e-3"}, {1e-2, "0.01"}, {1e-1, "0.1"}, {1, "1"}};
  for (int i = 0; i <= 5; ++i) c.y_ticks.emplace_back(i / 5.0, i == 5 ? "1" : i == 0 ? "0" : nn::str("0.", 2 * i));
  for (std::size_t k = 0; k < curves.size(); ++k) {
    Series s{names[k], {}, {}};
    for (std::size_t i = 0; i < curves[k].fpr.size(); ++i) {
      s.x.push_back(curves[k].fpr[i]);
      s.y.push_back(curves[k].tpr[i]);
    }
    c.series.push_back(std::move(s));
  }
  return c;
}

Chart det_chart(const std::vector<std::string>& names, const std::vector<RocCurve>& curves) {
  Chart c;
  c.title = "DET";
  c.x_label = "FPR = APCER (fakes accepted)";
  c.y_label = "FNR = BPCER (reals rejected)";
  c.x_scale = c.y_scale = Scale::probit;
  c.x_min = c.y_min = 5e-5;
  c.x_max = c.y_max = 0.5;
  c.x_ticks = c.y_ticks = probit_ticks();
  c.legend_bottom = false;
  for (std::size_t k = 0; k < curves.size(); ++k) {
    Series s{names[k], {}, {}};
    for (std::size_t i = 0; i < curves[k].fpr.size(); ++i) {
      s.x.push_back(curves[k].fpr[i]);
      s.y.push_back(1 - curves[k].tpr[i]);
    }
    c.series.push_back(std::move(s));
  }
  return c;
}

std::string chart_svg(const Chart& c, int width, int height) {
  const Frame f = frame_of(c, width, height);
  std::ostringstream o;
  o.precision(2);
  o << std::fixed;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height << "\" viewBox=\"0 0 "
    << width << ' ' << height << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  for (const auto& [v, label] : c.x_ticks) {
    const double x = f.px(v);
    o << "<line x1=\"" << x << "\" y1=\"" << f.top << "\" x2=\"" << x << "\" y2=\"" << f.top + f.height
      << "\" stroke=\"#ddd\"/><text x=\"" << x << "\" y=\"" << f.top + f.height + 16 << "\" text-anchor=\"middle\">"
      << xml_escape(label) << "</text>\n";
  }
  for (const auto& [v, label] : c.y_ticks) {
    const double y = f.py(v);
    o << "<line x1=\"" << f.left << "\" y1=\"" << y << "\" x2=\"" << f.left + f.width << "\" y2=\"" << y
      << "\" stroke=\"#ddd\"/><text x=\"" << f.left - 6 << "\" y=\"" << y + 4 << "\" text-anchor=\"end\">"
      << xml_escape(label) << "</text>\n";
  }
  o << "<rect x=\"" << f.left << "\" y=\"" << f.top << "\" width=\"" << f.width << "\" height=\"" << f.height
    << "\" fill=\"none\" stroke=\"black\"/>\n";
  o << "<text x=\"" << f.left + f.width / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"16\">" << xml_escape(c.title)
    << "</text>\n";
  o << "<text x=\"" << f.left + f.width / 2 << "\" y=\"" << height - 12 << "\" text-anchor=\"middle\">"
    << xml_escape(c.x_label) << "</text>\n";
  o << "<text transform=\"translate(16," << f.top + f.height / 2 << ") rotate(-90)\" text-anchor=\"middle\">"
    << xml_escape(c.y_label) << "</text>\n";
  for (std::size_t k = 0; k < c.series.size(); ++k) {
    const auto& s = c.series[k];
    o << "<polyline fill=\"none\" stroke=\"" << hex_color(kPalette[k % kPalette.size()])
      << "\" stroke-width=\"1.8\" points=\"";
    // Points that land on the last drawn one (to a tenth of a pixel) add bytes, not shape.
    double last_x = -1, last_y = -1;
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      const double x = std::round(f.px(s.x[i]) * 10) / 10, y = std::round(f.py(s.y[i]) * 10) / 10;
      if (x == last_x && y == last_y && i + 1 < s.x.size()) continue;
      o << (i ? " " : "") << x << ',' << y;
      last_x = x, last_y = y;
    }
    o << "\"/>\n";
  }
  const double ly0 = c.legend_bottom ? f.top + f.height - 10 - 18.0 * static_cast<double>(c.series.size()) : f.top + 10;
  for (std::size_t k = 0; k < c.series.size(); ++k) {
    const double y = ly0 + 18.0 * static_cast<double>(k) + 9;
    const double x = f.left + f.width - 230;
    o << "<line x1=\"" << x << "\" y1=\"" << y << "\" x2=\"" << x + 24 << "\" y2=\"" << y << "\" stroke=\""
      << hex_color(kPalette[k % kPalette.size()]) << "\" stroke-width=\"3\"/><text x=\"" << x + 30 << "\" y=\"" << y + 4
      << "\">" << xml_escape(c.series[k].name) << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

std::vector<std::uint8_t> rasterize_chart(const Chart& c, int width, int height) {
  NN_CHECK(width >= 200 && height >= 150 && width <= 8192 && height <= 8192, "plot: image size ", width, "x", height,
           " is outside 200x150 .. 8192x8192");
  const Frame f = frame_of(c, width, height);
  Canvas cv(width, height);
  constexpr std::uint32_t grid = 0xdddddd, ink = 0x000000;
  for (const auto& [v, label] : c.x_ticks) {
    cv.line(f.px(v), f.top, f.px(v), f.top + f.height, grid);
    cv.text(f.px(v), f.top + f.height + 8, label, 1, ink);
  }
  for (const auto& [v, label] : c.y_ticks) {
    cv.line(f.left, f.py(v), f.left + f.width, f.py(v), grid);
    cv.text(f.left - 6, f.py(v) - 3, label, 2, ink);
  }
  cv.line(f.left, f.top, f.left + f.width, f.top, ink);
  cv.line(f.left, f.top + f.height, f.left + f.width, f.top + f.height, ink);
  cv.line(f.left, f.top, f.left, f.top + f.height, ink);
  cv.line(f.left + f.width, f.top, f.left + f.width, f.top + f.height, ink);
  cv.text(f.left + f.width / 2, 10, c.title, 1, ink, 2);
  cv.text(f.left + f.width / 2, height - 20, c.x_label, 1, ink);
  cv.text(4, f.top - 16, c.y_label, 0, ink);
  for (std::size_t k = 0; k < c.series.size(); ++k) {
    const auto& s = c.series[k];
    for (std::size_t i = 1; i < s.x.size(); ++i)
      cv.line(f.px(s.x[i - 1]), f.py(s.y[i - 1]), f.px(s.x[i]), f.py(s.y[i]), kPalette[k % kPalette.size()], 2);
  }
  const double ly0 = c.legend_bottom ? f.top + f.height - 10 - 14.0 * static_cast<double>(c.series.size()) : f.top + 10;
  for (std::size_t k = 0; k < c.series.size(); ++k) {
    const double y = ly0 + 14.0 * static_cast<double>(k);
    const double x = f.left + f.width - 230;
    cv.line(x, y + 3, x + 20, y + 3, kPalette[k % kPalette.size()], 3);
    cv.text(x + 26, y, c.series[k].name.substr(0, 32), 0, ink);
  }
  return cv.take();
}

void write_chart_png(const std::string& path, const Chart& c, int width, int height) {
  const auto pixels = rasterize_chart(c, width, height);
  std::string bytes;
  NN_CHECK(stbi_write_png_to_func(append_bytes, &bytes, width, height, 3, pixels.data(), width * 3) != 0,
           "plot: cannot encode PNG ", path);
  nn::io::write_atomically(path, [&](std::ostream& out) { out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });
}

std::string xml_escape(std::string_view s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += ch;
    }
  }
  return out;
}

}  // namespace infer::eval
