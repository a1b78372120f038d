// A request as frontends see it: the 11 public fields of a record (API.md "Requests").
#pragma once

#include <cstdint>
#include <string>

namespace courier {

struct Record {
  std::string id;
  std::string runtime_id;
  std::string kind;
  std::string status;
  int64_t version = 0;
  int64_t attempt = 0;
  std::string payload;  // JSON text
  std::string result;   // JSON text; empty: null
  std::string error;    // empty: null
  int64_t created_ms = 0;
  int64_t updated_ms = 0;

  bool terminal() const { return status != "pending" && status != "running"; }
};

}  // namespace courier
