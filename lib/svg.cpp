// SVG plots (esm/svg.hpp): fixed layout, no dependencies.
#include "esm/svg.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "decimal.hpp"
#include "esm/common.hpp"

namespace esm {

namespace {

constexpr double kW = 720, kH = 480, kL = 70, kT = 40, kB = 55;
constexpr double kR = 170;  // the right margin holds the legend
// Ten colours, then the same ten dashed three ways: 40 series told apart (--bins up to 40).
const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                         "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
const char* kDashes[] = {"", "6 3", "2 2", "8 3 2 3"};

std::string esc(const std::string& s) {
    std::string o;
    for (char c : s) {
        if (c == '<') o += "&lt;";
        else if (c == '>') o += "&gt;";
        else if (c == '&') o += "&amp;";
        else if (c == '"') o += "&quot;";
        else o += c;
    }
    return o;
}

std::string num(double v, int digits = 4) {
    char b[40];
    detail::CNumbers c;
    std::snprintf(b, sizeof b, "%.*g", digits, v);
    return b;
}

// The ticks' labels, with as many significant digits as it takes (4 at least) for each to
// read its tick's value (within a hundredth of the step), so no two read the same:
// accuracies from 99.99 to 99.999 at a step of 0.002 were all "99.99", and ticks at a step
// of 0.5 read 47850, 47851, 47852 for 47850.5, 47851, 47851.5 (distinct, but not the ticks).
std::vector<std::string> tick_labels(const std::vector<double>& ticks) {
    std::vector<std::string> labels;
    const double step = ticks.size() > 1 ? std::fabs(ticks[1] - ticks[0]) : 0.0;
    for (int digits = 4; digits <= 17; ++digits) {
        labels.clear();
        bool exact = true;
        for (double v : ticks) {
            labels.push_back(num(v, digits));
            exact = exact && (step == 0 || std::fabs(detail::strtod_c(labels.back().c_str(), nullptr) - v) <= step * 0.01);
        }
        for (size_t i = 1; i < labels.size() && exact; ++i) exact = labels[i] != labels[i - 1];
        if (exact) break;
    }
    return labels;
}

struct Frame {
    double x0, x1, y0, y1;
    double px(double x) const { return kL + (x - x0) / (x1 - x0) * (kW - kL - kR); }
    double py(double y) const { return kH - kB - (y - y0) / (y1 - y0) * (kH - kT - kB); }
};

// A range with a margin; one value alone gets a width around it (half a step on an axis of
// whole numbers, where a single iteration 0 must not show a tick at -1).
void pad_range(double& lo, double& hi, bool whole = false) {
    if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
    if (hi <= lo) {
        const double d = whole ? 0.5 : std::fabs(lo) > 0 ? std::fabs(lo) * 0.05 : 1;
        lo -= d, hi += d;
    }
    const double m = (hi - lo) * 0.05;
    lo -= m, hi += m;
}

// Tick values inside [lo, hi] at the round step (1, 2 or 5 times a power of ten) nearest to
// a fifth of the range; at least 1 on an axis of whole numbers (iterations).
std::vector<double> ticks(double lo, double hi, bool whole) {
    const double raw = (hi - lo) / 5, mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = mag;
    for (double m : {2.0, 5.0, 10.0})  // the round step nearest to raw, in ratio
        if (std::fabs(std::log(m * mag / raw)) < std::fabs(std::log(step / raw))) step = m * mag;
    if (whole) step = std::max(step, 1.0);
    std::vector<double> t;
    for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9 && t.size() < 50; v += step)
        t.push_back(std::fabs(v) < step * 1e-9 ? 0.0 : v);
    return t;
}

void axes(std::ostringstream& o, const Frame& f, const std::string& title, const std::string& xl, const std::string& yl,
          bool whole_x = false) {
    o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kW << "\" height=\"" << kH << "\" viewBox=\"0 0 " << kW
      << ' ' << kH << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << kW / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" << esc(title) << "</text>\n"
      << "<text x=\"" << kW / 2 << "\" y=\"" << kH - 12 << "\" text-anchor=\"middle\">" << esc(xl) << "</text>\n"
      << "<text x=\"16\" y=\"" << kH / 2 << "\" text-anchor=\"middle\" transform=\"rotate(-90 16 " << kH / 2 << ")\">"
      << esc(yl) << "</text>\n"
      << "<rect x=\"" << kL << "\" y=\"" << kT << "\" width=\"" << kW - kL - kR << "\" height=\"" << kH - kT - kB
      << "\" fill=\"none\" stroke=\"black\"/>\n"
      // Lines and points are clipped to the frame: a band line ends where the frame does.
      << "<clipPath id=\"frame\"><rect x=\"" << kL << "\" y=\"" << kT << "\" width=\"" << kW - kL - kR
      << "\" height=\"" << kH - kT - kB << "\"/></clipPath>\n";
    const std::vector<double> xt = ticks(f.x0, f.x1, whole_x), yt = ticks(f.y0, f.y1, false);
    const std::vector<std::string> xs = tick_labels(xt), ys = tick_labels(yt);
    for (size_t i = 0; i < xt.size(); ++i)
        o << "<text x=\"" << f.px(xt[i]) << "\" y=\"" << kH - kB + 16 << "\" text-anchor=\"middle\">" << xs[i] << "</text>\n";
    for (size_t i = 0; i < yt.size(); ++i)
        o << "<text x=\"" << kL - 6 << "\" y=\"" << f.py(yt[i]) + 4 << "\" text-anchor=\"end\">" << ys[i] << "</text>\n"
          << "<line x1=\"" << kL << "\" x2=\"" << kW - kR << "\" y1=\"" << f.py(yt[i]) << "\" y2=\"" << f.py(yt[i])
          << "\" stroke=\"#ddd\"/>\n";
}

// One legend entry in the right margin: a short line in the series' style, then its name,
// in a font small enough for the rows to fit the frame's height and the name its width
// (about 0.6 em a character).
void legend_entry(std::ostringstream& o, int row, int rows, const std::string& style, const std::string& name) {
    const double step = std::min(16.0, (kH - kT - kB) / std::max(rows, 1)), y = kT + 10 + step * row;
    const double x = kW - kR + 10, room = kR - 10 - 28 - 4;
    const double font = std::min({12.0, step - 1, room / (0.6 * static_cast<double>(std::max<size_t>(name.size(), 1)))});
    o << "<line x1=\"" << x << "\" x2=\"" << x + 22 << "\" y1=\"" << y - 4 << "\" y2=\"" << y - 4 << "\" " << style
      << "/>\n<text x=\"" << x + 28 << "\" y=\"" << y << "\" font-size=\"" << num(font) << "\">" << esc(name)
      << "</text>\n";
}

}  // namespace

std::string svg_scatter(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                        const std::vector<double>& x, const std::vector<double>& y, double band) {
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
        if (!std::isfinite(x[i]) || !std::isfinite(y[i])) continue;
        lo = std::min({lo, x[i], y[i]});
        hi = std::max({hi, x[i], y[i]});
    }
    pad_range(lo, hi);
    Frame f{lo, hi, lo, hi};
    std::ostringstream o;
    o.imbue(std::locale::classic());  // coordinates: "12.5", whatever the host's global C++ locale
    axes(o, f, title, xlabel, ylabel);
    const std::string diagonal = "stroke=\"black\"", dashed = "stroke=\"gray\" stroke-dasharray=\"4 3\"";
    o << "<g clip-path=\"url(#frame)\">\n<line x1=\"" << f.px(lo) << "\" y1=\"" << f.py(lo) << "\" x2=\"" << f.px(hi)
      << "\" y2=\"" << f.py(hi) << "\" " << diagonal << "/>\n";
    if (band > 0)
        for (double s : {1 + band, 1 - band})
            o << "<line x1=\"" << f.px(lo) << "\" y1=\"" << f.py(lo * s) << "\" x2=\"" << f.px(hi) << "\" y2=\""
              << f.py(hi * s) << "\" " << dashed << "/>\n";
    for (size_t i = 0; i < x.size() && i < y.size(); ++i)
        if (std::isfinite(x[i]) && std::isfinite(y[i]))
            o << "<circle cx=\"" << f.px(x[i]) << "\" cy=\"" << f.py(y[i]) << "\" r=\"2\" fill=\"" << kColors[0]
              << "\" fill-opacity=\"0.6\"/>\n";
    o << "</g>\n";
    legend_entry(o, 0, 2, diagonal, "y = x");
    if (band > 0) legend_entry(o, 1, 2, dashed, "\u00b1" + num(band * 100) + " %");
    o << "</svg>\n";
    return o.str();
}

std::string svg_lines(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                      const std::vector<Series>& series, double hline, const std::string& hline_name) {
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    bool whole_x = true;  // iterations, sample counts: no ticks between whole numbers
    for (const auto& s : series)
        for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
            if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
            x0 = std::min(x0, s.x[i]), x1 = std::max(x1, s.x[i]);
            y0 = std::min(y0, s.y[i]), y1 = std::max(y1, s.y[i]);
            whole_x = whole_x && s.x[i] == std::floor(s.x[i]);
        }
    if (std::isfinite(hline)) y0 = std::min(y0, hline), y1 = std::max(y1, hline);
    pad_range(x0, x1, whole_x);
    pad_range(y0, y1);
    Frame f{x0, x1, y0, y1};
    std::ostringstream o;
    o.imbue(std::locale::classic());
    axes(o, f, title, xlabel, ylabel, whole_x);
    const int rows = static_cast<int>(series.size()) + (std::isfinite(hline) ? 1 : 0);
    const std::string threshold = "stroke=\"black\" stroke-dasharray=\"6 4\"";
    if (std::isfinite(hline)) {
        o << "<line x1=\"" << kL << "\" x2=\"" << kW - kR << "\" y1=\"" << f.py(hline) << "\" y2=\"" << f.py(hline)
          << "\" " << threshold << "/>\n";
        legend_entry(o, static_cast<int>(series.size()), rows, threshold, hline_name.empty() ? num(hline) : hline_name);
    }
    for (size_t k = 0; k < series.size(); ++k) {
        const char* c = kColors[k % 10];
        const char* dash = kDashes[k / 10 % 4];
        const std::string style = std::string("stroke=\"") + c + "\" stroke-width=\"1.5\"" +
                                  (*dash ? std::string(" stroke-dasharray=\"") + dash + "\"" : std::string());
        const auto& s = series[k];
        o << "<g clip-path=\"url(#frame)\">\n<polyline fill=\"none\" " << style << " points=\"";
        for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
            if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) o << f.px(s.x[i]) << ',' << f.py(s.y[i]) << ' ';
        o << "\"/>\n";
        for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
            if (std::isfinite(s.x[i]) && std::isfinite(s.y[i]))
                o << "<circle cx=\"" << f.px(s.x[i]) << "\" cy=\"" << f.py(s.y[i]) << "\" r=\"2.5\" fill=\"" << c << "\"/>\n";
        o << "</g>\n";
        legend_entry(o, static_cast<int>(k), rows, style, s.name);
    }
    o << "</svg>\n";
    return o.str();
}

}  // namespace esm
