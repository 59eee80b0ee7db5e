// Dependency-free SVG plots written by the library itself: a scatter with the y = x
// line (predicted vs measured) and line charts (accuracy per iteration, vs samples).
// Not a plotting library: fixed layout, readable defaults, valid standalone SVG.
#pragma once
#include <limits>
#include <string>
#include <vector>

namespace esm {

struct Series {
    std::string name;
    std::vector<double> x, y;
};

// Points (x[i], y[i]) with the diagonal y = x; optional band lines at ±band (e.g. 0.1),
// drawn inside the frame and named in a legend.
std::string svg_scatter(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                        const std::vector<double>& x, const std::vector<double>& y, double band = 0.1);
// One polyline with markers per series, each named in a legend right of the frame (40
// styles: ten colours, each solid and dashed three ways); `hline` draws a dashed horizontal
// reference (e.g. Acc_TH) when finite, named `hline_name` in the legend (default: its value).
std::string svg_lines(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                      const std::vector<Series>& series, double hline = std::numeric_limits<double>::quiet_NaN(),
                      const std::string& hline_name = "");

}  // namespace esm
