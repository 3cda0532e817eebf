// The harness's HTML report: plain SVG drawn here, in the way Jepsen's latency and nemesis plots
// look (time across, bands for faults, points for operations), so that a run can be read at a
// glance and the page opens anywhere without a network.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "timeline.h"

namespace faultfs::harness {
namespace {

constexpr double kWidth = 1100;  // drawing area, px
constexpr double kLeft = 110;    // room for row labels
constexpr double kRowHeight = 26;
constexpr double kLatencyHeight = 260;

std::string Escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", v);
  return buf;
}

const char* FamilyColor(const std::string& family) {
  if (family == "disk") return "#f4a261";
  if (family == "kill") return "#e76f51";
  if (family == "power") return "#9b2226";
  if (family == "net") return "#457b9d";
  return "#999999";
}

const char* OutcomeColor(const std::string& type) {
  if (type == "ok") return "#2a9d8f";
  if (type == "fail") return "#e9c46a";
  return "#d62828";  // info: unknown outcome
}

const char* MarkColor(const std::string& what) {
  if (what == "leader") return "#2a9d8f";
  if (what == "exited" || what == "killed") return "#e76f51";
  if (what == "power-cut") return "#9b2226";
  if (what == "restarted") return "#264653";
  if (what == "suspect" || what == "election") return "#e9c46a";
  if (what == "repaired") return "#6a4c93";
  return "#555555";
}

class Svg {
 public:
  Svg(const Timeline& t, double height) : t_(t), height_(height) {}
  double X(double t_s) const {
    const double d = std::max(t_.duration_s, 1e-3);
    return kLeft + std::clamp(t_s / d, 0.0, 1.0) * kWidth;
  }
  void Add(const std::string& element) { body_ += element + "\n"; }
  void Text(double x, double y, const std::string& text, const char* extra = "") {
    Add("<text x=\"" + Num(x) + "\" y=\"" + Num(y) + "\" " + extra + ">" + Escape(text) +
        "</text>");
  }
  void TimeAxis(double y) {
    Add("<line x1=\"" + Num(kLeft) + "\" y1=\"" + Num(y) + "\" x2=\"" + Num(kLeft + kWidth) +
        "\" y2=\"" + Num(y) + "\" stroke=\"#333\"/>");
    const double step = t_.duration_s > 120 ? 30 : t_.duration_s > 30 ? 10 : 5;
    for (double s = 0; s <= t_.duration_s + 1e-9; s += step) {
      Text(X(s) - 8, y + 16, Num(s) + " s", "font-size=\"11\"");
    }
  }
  std::string Done(const std::string& id) const {
    return "<svg id=\"" + id + "\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
           Num(kLeft + kWidth + 20) + "\" height=\"" + Num(height_) +
           "\" font-family=\"sans-serif\">\n" + body_ + "</svg>\n";
  }

 private:
  const Timeline& t_;
  double height_;
  std::string body_;
};

std::string TimelineSvg(const Timeline& t) {
  const double rows = 1 + t.nodes;
  Svg svg(t, 30 + rows * kRowHeight + 30);
  svg.Text(4, 30 + kRowHeight * 0.6, "nemesis", "font-size=\"12\"");
  for (const auto& b : t.bands) {
    const double x = svg.X(b.start_s), w = std::max(2.0, svg.X(b.end_s) - x);
    svg.Add("<rect class=\"band\" x=\"" + Num(x) + "\" y=\"" + Num(30) + "\" width=\"" + Num(w) +
            "\" height=\"" + Num(rows * kRowHeight) + "\" fill=\"" + FamilyColor(b.family) +
            "\" fill-opacity=\"0.25\"><title>" + Escape(b.label) + " (" + Num(b.start_s) + "-" +
            Num(b.end_s) + " s)</title></rect>");
    svg.Text(x + 2, 30 + kRowHeight * 0.6, b.label, "font-size=\"10\"");
  }
  for (int n = 0; n < t.nodes; ++n) {
    const double y = 30 + (n + 1) * kRowHeight;
    svg.Text(4, y + kRowHeight * 0.6, "node " + std::to_string(n), "font-size=\"12\"");
    svg.Add("<line x1=\"" + Num(kLeft) + "\" y1=\"" + Num(y + kRowHeight / 2) + "\" x2=\"" +
            Num(kLeft + kWidth) + "\" y2=\"" + Num(y + kRowHeight / 2) + "\" stroke=\"#ddd\"/>");
  }
  for (const auto& m : t.marks) {
    const double y = 30 + (m.node + 1) * kRowHeight + kRowHeight / 2;
    svg.Add("<circle class=\"mark\" cx=\"" + Num(svg.X(m.t_s)) + "\" cy=\"" + Num(y) +
            "\" r=\"5\" fill=\"" + MarkColor(m.what) + "\"><title>node " + std::to_string(m.node) +
            ": " + Escape(m.what) + " " + Escape(m.detail) + " at " + Num(m.t_s) +
            " s</title></circle>");
  }
  svg.TimeAxis(30 + rows * kRowHeight + 4);
  return svg.Done("timeline");
}

// Client operations: latency (log scale) against the time they started, coloured by outcome,
// and the median and 99th percentile latency per second as lines.
std::string LatencySvg(const Timeline& t) {
  Svg svg(t, kLatencyHeight + 60);
  const double top = 20, bottom = top + kLatencyHeight;
  double max_ms = 1;
  for (const auto& op : t.ops) max_ms = std::max(max_ms, (op.end_s - op.start_s) * 1000);
  const double decades = std::max(1.0, std::ceil(std::log10(max_ms)) + 1);  // 0.1 ms .. max
  auto y = [&](double ms) {
    return bottom - (std::log10(std::max(ms, 0.1)) + 1) / decades * kLatencyHeight;
  };
  for (double d = 0.1; d <= std::pow(10, decades - 1) * 1.0001; d *= 10) {
    svg.Add("<line x1=\"" + Num(kLeft) + "\" y1=\"" + Num(y(d)) + "\" x2=\"" + Num(kLeft + kWidth) +
            "\" y2=\"" + Num(y(d)) + "\" stroke=\"#eee\"/>");
    svg.Text(kLeft - 60, y(d) + 4, Num(d) + " ms", "font-size=\"11\"");
  }
  for (const auto& b : t.bands) {
    const double x = svg.X(b.start_s);
    svg.Add("<rect x=\"" + Num(x) + "\" y=\"" + Num(top) + "\" width=\"" +
            Num(std::max(2.0, svg.X(b.end_s) - x)) + "\" height=\"" + Num(kLatencyHeight) +
            "\" fill=\"" + FamilyColor(b.family) + "\" fill-opacity=\"0.12\"/>");
  }
  std::map<int, std::vector<double>> per_second;
  for (const auto& op : t.ops) {
    const double ms = (op.end_s - op.start_s) * 1000;
    if (op.type == "ok") per_second[static_cast<int>(op.start_s)].push_back(ms);
    svg.Add("<circle class=\"op\" cx=\"" + Num(svg.X(op.start_s)) + "\" cy=\"" + Num(y(ms)) +
            "\" r=\"2\" fill=\"" + OutcomeColor(op.type) + "\"><title>" + op.f + " " + op.type +
            " " + Num(ms) + " ms (process " + std::to_string(op.process) + ")</title></circle>");
  }
  for (double q : {0.5, 0.99}) {
    std::string points;
    for (auto& [second, v] : per_second) {
      std::sort(v.begin(), v.end());
      const double ms =
          v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
      points += Num(svg.X(second + 0.5)) + "," + Num(y(ms)) + " ";
    }
    svg.Add("<polyline class=\"latency\" points=\"" + points + "\" fill=\"none\" stroke=\"" +
            (q < 0.9 ? "#1d3557" : "#e63946") + "\" stroke-width=\"1.5\"/>");
  }
  svg.TimeAxis(bottom + 4);
  return svg.Done("latency");
}

std::string Legend() {
  std::string html = "<p class=\"legend\">";
  for (const char* f : {"disk", "kill", "power", "net"}) {
    html += "<span style=\"background:" + std::string(FamilyColor(f)) + "40\">" + f + "</span> ";
  }
  for (const char* o : {"ok", "fail", "info"}) {
    html += "<span style=\"color:" + std::string(OutcomeColor(o)) + "\">&#9679; " + o + "</span> ";
  }
  return html + "<span style=\"color:#1d3557\">&#8212; median</span> " +
         "<span style=\"color:#e63946\">&#8212; 99th percentile</span></p>\n";
}

}  // namespace

std::string RenderHtml(const Timeline& t) {
  std::string html =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + Escape(t.title) +
      "</title>\n<style>body{font-family:sans-serif;margin:20px}table{border-collapse:collapse}"
      "td{padding:2px 10px;border-bottom:1px solid #eee}.legend span{margin-right:12px;"
      "padding:1px 4px}</style></head><body>\n<h1>" +
      Escape(t.title) + "</h1>\n<table id=\"summary\">\n";
  for (const auto& [label, value] : t.summary)
    html += "<tr><td>" + Escape(label) + "</td><td>" + Escape(value) + "</td></tr>\n";
  html += "</table>\n<h2>Timeline</h2>\n" + Legend() + TimelineSvg(t) +
          "<h2>Client operations: latency</h2>\n" + LatencySvg(t) + "</body></html>\n";
  return html;
}

}  // namespace faultfs::harness
