// What a courier-bench invocation writes: the table (stdout and table.txt), results.json, and
// the gnuplot PNGs.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "courier/bench/load.h"
#include "courier/bench/stats.h"

namespace courier::bench {

struct Report {
  std::string command_line;
  std::string machine;   // CPU model, cores, kernel
  std::string versions;  // redis, libevent, nginx, node …
  std::string started_at;
  std::vector<RunResult> runs;
  std::optional<IdleResult> idle;
  std::vector<std::string> notes;  // skipped modes and other remarks
};

// The whole table as text.
std::string renderTable(const Report& report);

// Writes table.txt, results.json and the plots to `dir` (created if missing). Returns the notes
// to print (e.g. "gnuplot not found: no plots").
std::vector<std::string> writeOutputs(const Report& report, const std::string& dir,
                                      const std::string& table);

// Looks `program` up in PATH; "" if absent.
std::string findInPath(const std::string& program);

}  // namespace courier::bench
