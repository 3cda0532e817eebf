// What happened in a harness run, on one time axis, for the HTML report: the nemeses as bands,
// what each node went through (leaderships, exits, restarts, kills, power cuts, suspicions,
// repairs), and every client operation with its latency and outcome.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace faultfs::harness {

struct Timeline {
  struct Band {  // a nemesis, from its start to its heal
    double start_s = 0, end_s = 0;
    std::string family;  // disk, kill, power, net
    std::string label;   // "corrupt on node 1", "one-way 0->2"
  };
  struct Mark {  // something one node went through
    double t_s = 0;
    int node = 0;
    std::string what;  // leader, exited, restarted, killed, power-cut, suspect, repaired, election
    std::string detail = {};
  };
  struct Op {  // a client operation
    double start_s = 0, end_s = 0;
    std::string f;     // append, read
    std::string type;  // ok, fail, info
    int process = 0;
  };
  std::string title;
  double duration_s = 0;
  int nodes = 0;
  std::vector<std::pair<std::string, std::string>> summary;  // label, value (shown as a table)
  std::vector<Band> bands;
  std::vector<Mark> marks;
  std::vector<Op> ops;
};

// One self-contained HTML page (inline SVG, no scripts, no network): the summary, the timeline
// of nemeses and nodes, client operations coloured by outcome, and latency over time.
std::string RenderHtml(const Timeline& timeline);

}  // namespace faultfs::harness
