#include "courier/daemon/skills.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <system_error>
#include <utility>

#include "courier/util/json.h"

namespace courier::daemon {
namespace {

namespace fs = std::filesystem;

std::string_view trimView(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

size_t indentOf(std::string_view line) {
  size_t n = 0;
  while (n < line.size() && line[n] == ' ') ++n;
  return n;
}

bool isBlank(std::string_view line) { return trimView(line).empty(); }

// Length of the valid UTF-8 sequence at s[i] (1 for ASCII), or 0 (RFC 3629: no overlongs,
// surrogates or code points past U+10FFFF).
size_t utf8Length(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const auto cont = [&](size_t k) { return i + k < s.size() && (b(k) & 0xC0) == 0x80; };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if ((c == 0xE0 && b(1) < 0xA0) || (c == 0xED && b(1) >= 0xA0)) return 0;
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if ((c == 0xF0 && b(1) < 0x90) || (c == 0xF4 && b(1) >= 0x90)) return 0;
    return 4;
  }
  return 0;
}

void appendUtf8(std::string& out, unsigned cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Joins the lines of a multi-line flow scalar the YAML way: a line break between two non-empty
// lines becomes a space, each empty line becomes a "\n"; each line is trimmed. `continued`: the
// lines continue a first line the caller holds, so empty lines at the start count too.
std::string foldLines(const std::vector<std::string_view>& lines, bool continued = false) {
  std::string out;
  bool pending_space = false;
  bool first = !continued;
  for (std::string_view raw : lines) {
    std::string_view line = trimView(raw);
    if (line.empty()) {
      if (!first) out.push_back('\n');
      pending_space = false;
      continue;
    }
    if (pending_space) out.push_back(' ');
    out.append(line);
    pending_space = true;
    first = false;
  }
  return out;
}

// A plain scalar's text without a trailing " # comment".
std::string_view stripComment(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '#' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t')) return s.substr(0, i);
  }
  return s;
}

// Unescapes a double-quoted scalar's body (between the quotes, lines already folded).
std::string unescapeDouble(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out.push_back(s[i]);
      continue;
    }
    const char c = s[++i];
    const auto hex = [&](size_t digits) {
      unsigned cp = 0;
      size_t n = 0;
      for (; n < digits && i + 1 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1]));
           ++n) {
        const char h = s[++i];
        cp = cp * 16 + static_cast<unsigned>(std::isdigit(static_cast<unsigned char>(h))
                                                 ? h - '0'
                                                 : (std::tolower(h) - 'a' + 10));
      }
      if (n == digits && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF)) appendUtf8(out, cp);
    };
    switch (c) {
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case '0':
        out.push_back('\0');
        break;
      case 'x':
        hex(2);
        break;
      case 'u':
        hex(4);
        break;
      case 'U':
        hex(8);
        break;
      case 'N':
        appendUtf8(out, 0x85);
        break;
      case '_':
        appendUtf8(out, 0xA0);
        break;
      default:
        out.push_back(c);  // \" \\ \/ \  and anything unknown: the character itself
    }
  }
  return out;
}

// The value of a top-level key: `first` is what follows "key:" on its line, `more` the lines
// after it that belong to the value (blank or indented). Returns false for a value that is not a
// string (a nested mapping or sequence), which the caller ignores.
bool scalarValue(std::string_view first, const std::vector<std::string_view>& more,
                 std::string* out) {
  first = trimView(first);
  if (!first.empty() && (first[0] == '|' || first[0] == '>')) {
    // Block scalar: `|` keeps line breaks, `>` folds them; `-` strips the final break, `+`
    // keeps every trailing one, neither keeps exactly one.
    const bool literal = first[0] == '|';
    const std::string_view header = stripComment(first.substr(1));
    const char chomp = header.find('-') != std::string_view::npos   ? '-'
                       : header.find('+') != std::string_view::npos ? '+'
                                                                    : ' ';
    size_t indent = 0;
    for (std::string_view line : more) {
      if (!isBlank(line)) {
        indent = indentOf(line);
        break;
      }
    }
    std::string text;
    bool previous_plain = false;  // the previous line was a non-empty, not more-indented line
    for (std::string_view line : more) {
      if (isBlank(line)) {
        // Folded: the break after a plain line stands for the first empty line after it.
        if (literal || !previous_plain) text.push_back('\n');
        previous_plain = false;
        continue;
      }
      std::string_view body = line.size() > indent ? line.substr(indent) : std::string_view{};
      if (!body.empty() && body.back() == '\r') body.remove_suffix(1);
      const bool more_indented = !body.empty() && (body[0] == ' ' || body[0] == '\t');
      if (literal) {
        text.append(body);
        text.push_back('\n');
        continue;
      }
      if (previous_plain && !more_indented) {
        text.back() = ' ';  // folds the previous line break into a space
      }
      text.append(body);
      text.push_back('\n');
      previous_plain = !more_indented;
    }
    if (chomp != '+') {
      while (!text.empty() && text.back() == '\n') text.pop_back();
      if (chomp == ' ' && !text.empty()) text.push_back('\n');
    }
    *out = std::move(text);
    return true;
  }
  if (!first.empty() && (first[0] == '"' || first[0] == '\'')) {
    const char quote = first[0];
    std::vector<std::string_view> lines{first.substr(1)};
    lines.insert(lines.end(), more.begin(), more.end());
    // Find the closing quote across the lines; fold what is in between.
    std::vector<std::string_view> body;
    for (std::string_view line : lines) {
      size_t i = 0;
      for (; i < line.size(); ++i) {
        if (quote == '"' && line[i] == '\\') {
          ++i;
          continue;
        }
        if (line[i] == quote) {
          if (quote == '\'' && i + 1 < line.size() && line[i + 1] == '\'') {
            ++i;
            continue;
          }
          break;
        }
      }
      if (i < line.size()) {
        body.push_back(line.substr(0, i));
        break;
      }
      body.push_back(line);
    }
    // Only the first line keeps its leading spaces, only the last its trailing ones.
    std::string folded;
    if (body.size() == 1) {
      folded = std::string(body[0]);
    } else {
      std::string_view head = body.front();
      while (!head.empty() && (head.back() == ' ' || head.back() == '\t' || head.back() == '\r')) {
        head.remove_suffix(1);
      }
      folded = std::string(head);
      std::vector<std::string_view> middle(body.begin() + 1, body.end());
      std::string rest = foldLines(middle, /*continued=*/true);
      if (!rest.empty() && rest.front() != '\n') folded.push_back(' ');
      folded += rest;
    }
    if (quote == '"') {
      *out = unescapeDouble(folded);
    } else {
      std::string s;
      for (size_t i = 0; i < folded.size(); ++i) {
        s.push_back(folded[i]);
        if (folded[i] == '\'' && i + 1 < folded.size() && folded[i + 1] == '\'') ++i;
      }
      *out = std::move(s);
    }
    return true;
  }
  // Plain scalar, possibly continued on more-indented lines; a value that starts on the next
  // line as "key: …" or "- …" is a mapping or a sequence.
  first = trimView(stripComment(first));
  if (first.empty()) {
    for (std::string_view line : more) {
      std::string_view t = trimView(line);
      if (t.empty()) continue;
      if (t[0] == '-' && (t.size() == 1 || t[1] == ' ')) return false;
      if (t.find(": ") != std::string_view::npos || t.back() == ':') return false;
      if (t[0] == '[' || t[0] == '{') return false;
      break;
    }
  } else if (first[0] == '[' || first[0] == '{') {
    return false;
  }
  std::vector<std::string_view> lines{first};
  for (std::string_view line : more) lines.push_back(stripComment(line));
  std::string value = foldLines(lines);
  while (!value.empty() && value.back() == '\n') value.pop_back();
  while (!value.empty() && value.front() == '\n') value.erase(value.begin());
  if (value == "~" || value == "null" || value == "Null" || value == "NULL") value.clear();
  *out = std::move(value);
  return true;
}

bool isValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8Length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// Whether `path` (canonical) is `root` (canonical) or inside it.
bool isWithin(const fs::path& path, const fs::path& root) {
  const std::string p = path.native(), r = root.native();
  if (p == r) return true;
  if (r == "/") return true;
  return p.size() > r.size() && p.compare(0, r.size(), r) == 0 && p[r.size()] == '/';
}

bool skippedName(const std::string& name, bool is_dir) {
  if (is_dir) return name == ".git" || name == ".hg" || name == ".svn";
  return name == ".DS_Store";
}

struct WalkedFile {
  std::string rel;  // "scripts/run.sh"
  fs::path real;    // canonical path of the file (a symlink's target)
  bool too_deep;    // nested deeper than the limit
};

struct Walk {
  std::vector<WalkedFile> files;  // sorted by rel
  std::vector<std::string> skipped;
  std::string error;  // "more than N entries" (the walk stopped there)
};

// Lists the regular files under the canonical `root` (except the top-level SKILL.md), following
// symlinks that stay inside it and visiting each real folder once (a link to a parent cannot
// loop). Never throws.
Walk walkSkillFolder(const fs::path& root, const SkillLimits& limits) {
  Walk walk;
  struct Dir {
    fs::path real;
    std::string rel;  // "" or "a/b/"
    int depth;        // folders below root
  };
  std::vector<Dir> stack{{root, "", 0}};
  std::set<std::string> visited{root.native()};
  size_t entries = 0;
  while (!stack.empty()) {
    Dir dir = std::move(stack.back());
    stack.pop_back();
    std::error_code ec;
    fs::directory_iterator it(dir.real, fs::directory_options::none, ec);
    if (ec) {
      walk.skipped.push_back((dir.rel.empty() ? "." : dir.rel) + " (" + ec.message() + ")");
      continue;
    }
    std::vector<fs::directory_entry> children;
    for (; it != fs::directory_iterator(); it.increment(ec)) {
      if (ec) break;
      if (++entries > limits.max_entries) {
        walk.error = "more than " + std::to_string(limits.max_entries) + " entries in the folder";
        return walk;
      }
      children.push_back(*it);
    }
    for (const auto& child : children) {
      const std::string name = child.path().filename().native();
      const std::string rel = dir.rel + name;
      if (dir.depth == 0 && name == "SKILL.md") continue;
      if (!isValidUtf8(name)) {
        walk.skipped.push_back(rel + " (name is not UTF-8)");
        continue;
      }
      fs::path real = child.path();
      const bool is_link = child.is_symlink(ec);
      if (is_link) {
        real = fs::canonical(child.path(), ec);
        if (ec) {
          walk.skipped.push_back(rel + " (broken symlink)");
          continue;
        }
        if (!isWithin(real, root)) {
          walk.skipped.push_back(rel + " (symlink leaves the skill folder)");
          continue;
        }
      }
      const fs::file_status st = fs::status(real, ec);
      if (ec) {
        walk.skipped.push_back(rel + " (" + ec.message() + ")");
        continue;
      }
      if (fs::is_directory(st)) {
        if (skippedName(name, true)) continue;
        if (!visited.insert(fs::canonical(real, ec).native()).second) continue;
        stack.push_back({real, rel + "/", dir.depth + 1});
      } else if (fs::is_regular_file(st)) {
        if (skippedName(name, false)) continue;
        walk.files.push_back({rel, real, dir.depth > limits.max_depth});
      } else {
        walk.skipped.push_back(rel + " (not a regular file)");
      }
    }
  }
  std::sort(walk.files.begin(), walk.files.end(),
            [](const WalkedFile& a, const WalkedFile& b) { return a.rel < b.rel; });
  return walk;
}

enum class ReadStatus { kOk, kBinary, kTooLarge, kError };

// Reads a regular file of at most `max_bytes`. kBinary when its first 8 KiB hold a NUL (before
// the size check) or it is not UTF-8; kTooLarge with its size in *size. Never blocks on a fifo
// (O_NONBLOCK, then fstat must say regular file).
ReadStatus readTextFile(const fs::path& path, size_t max_bytes, std::string* out, size_t* size,
                        std::string* why) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    *why = std::strerror(errno);
    return ReadStatus::kError;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    *why = "not a regular file";
    return ReadStatus::kError;
  }
  *size = static_cast<size_t>(st.st_size);
  std::string data;
  const size_t want = std::min(*size, max_bytes) + 1;  // +1: notice a file that grew
  data.resize(want);
  size_t got = 0;
  while (got < want) {
    const ssize_t n = ::read(fd, data.data() + got, want - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *why = std::strerror(errno);
      ::close(fd);
      return ReadStatus::kError;
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  data.resize(got);
  if (std::memchr(data.data(), '\0', std::min<size_t>(data.size(), 8192)) != nullptr) {
    return ReadStatus::kBinary;
  }
  if (got > max_bytes || *size > max_bytes) {
    *size = std::max(*size, got);
    return ReadStatus::kTooLarge;
  }
  if (!isValidUtf8(data)) return ReadStatus::kBinary;
  *out = std::move(data);
  return ReadStatus::kOk;
}

// The skill folder `<dir>/<key>` and its canonical form, if it is a folder with a SKILL.md
// that is a regular file inside it.
bool findSkillFolder(const std::string& dir, const std::string& key, fs::path* folder,
                     fs::path* real) {
  std::error_code ec;
  *folder = fs::path(dir) / key;
  if (!fs::is_directory(*folder, ec)) return false;
  *real = fs::canonical(*folder, ec);
  if (ec) return false;
  const fs::path skill_md = fs::canonical(*real / "SKILL.md", ec);
  if (ec || !isWithin(skill_md, *real)) return false;
  return fs::is_regular_file(skill_md, ec);
}

std::string mib(size_t bytes) {
  return bytes % (1 << 20) == 0 ? std::to_string(bytes >> 20) + " MiB"
                                : std::to_string(bytes) + " bytes";
}

}  // namespace

FrontMatter parseFrontMatter(std::string_view text) {
  FrontMatter fm;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 BOM
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    pos = nl + 1;
  }
  const auto rtrim = [](std::string_view s) {
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  if (lines.empty() || rtrim(lines[0]) != "---") return fm;
  size_t end = 1;
  while (end < lines.size() && rtrim(lines[end]) != "---" && rtrim(lines[end]) != "...") ++end;
  if (end >= lines.size()) return fm;
  fm.present = true;

  for (size_t i = 1; i < end;) {
    std::string_view line = lines[i];
    if (isBlank(line) || indentOf(line) > 0 || line[0] == '#' || line[0] == '\t') {
      ++i;
      continue;
    }
    // A top-level "key: value" (the key may be quoted).
    std::string key;
    size_t colon = std::string_view::npos;
    if (line[0] == '"' || line[0] == '\'') {
      const size_t close = line.find(line[0], 1);
      if (close != std::string_view::npos && close + 1 < line.size() && line[close + 1] == ':') {
        key = std::string(line.substr(1, close - 1));
        colon = close + 1;
      }
    } else {
      for (size_t k = 0; k < line.size(); ++k) {
        if (line[k] == ':' && (k + 1 == line.size() || line[k + 1] == ' ' || line[k + 1] == '\t')) {
          key = std::string(trimView(line.substr(0, k)));
          colon = k;
          break;
        }
      }
    }
    size_t next = i + 1;
    while (next < end &&
           (isBlank(lines[next]) || indentOf(lines[next]) > 0 || lines[next][0] == '\t')) {
      ++next;
    }
    if (colon != std::string_view::npos && (key == "name" || key == "description")) {
      std::vector<std::string_view> more(lines.begin() + static_cast<long>(i) + 1,
                                         lines.begin() + static_cast<long>(next));
      // Trailing blank lines belong to no value.
      while (!more.empty() && isBlank(more.back())) more.pop_back();
      std::string value;
      if (scalarValue(line.substr(colon + 1), more, &value)) {
        (key == "name" ? fm.name : fm.description) = std::string(trimView(value));
      }
    }
    i = next;
  }
  return fm;
}

bool isSafeSkillKey(std::string_view key) {
  if (key.empty() || key.size() > 255 || key[0] == '.') return false;
  return key.find_first_of(std::string_view("/\\\0", 3)) == std::string_view::npos;
}

std::vector<SkillSummary> listSkills(const std::vector<std::string>& dirs,
                                     const SkillLimits& limits) {
  std::vector<SkillSummary> out;
  std::set<std::string> seen;
  for (const std::string& dir : dirs) {
    std::error_code ec;
    std::vector<std::string> keys;
    for (fs::directory_iterator it(dir, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      std::string key = it->path().filename().native();
      if (isSafeSkillKey(key) && isValidUtf8(key)) keys.push_back(std::move(key));
    }
    std::sort(keys.begin(), keys.end());
    for (const std::string& key : keys) {
      if (seen.count(key) != 0) continue;
      fs::path folder, real;
      if (!findSkillFolder(dir, key, &folder, &real)) continue;
      std::string text, why;
      size_t size = 0;
      if (readTextFile(real / "SKILL.md", limits.max_file_bytes, &text, &size, &why) !=
          ReadStatus::kOk) {
        text.clear();  // listed all the same, by its key; the import says what is wrong
      }
      seen.insert(key);
      FrontMatter fm = parseFrontMatter(text);
      SkillSummary s;
      s.key = key;
      s.name = fm.name.empty() ? key : fm.name;
      s.description = fm.description;
      s.source_path = folder.native();
      for (const auto& f : walkSkillFolder(real, limits).files) {
        if (!f.too_deep) ++s.file_count;
      }
      out.push_back(std::move(s));
    }
  }
  return out;
}

Result<SkillBundle, SkillError> loadSkill(const std::vector<std::string>& dirs,
                                          const std::string& key, const SkillLimits& limits) {
  const auto error = [&](SkillErrc code, const std::string& what) {
    return fail(
        SkillError{code, code == SkillErrc::kNotFound ? what : "skill " + key + ": " + what});
  };
  fs::path folder, real;
  bool found = false;
  if (isSafeSkillKey(key)) {
    for (const std::string& dir : dirs) {
      if ((found = findSkillFolder(dir, key, &folder, &real))) break;
    }
  }
  if (!found) return error(SkillErrc::kNotFound, "skill not found: " + key);

  SkillBundle b;
  b.key = key;
  b.source_path = folder.native();
  std::string why;
  size_t size = 0;
  switch (readTextFile(real / "SKILL.md", limits.max_file_bytes, &b.content, &size, &why)) {
    case ReadStatus::kOk:
      break;
    case ReadStatus::kBinary:
      return error(SkillErrc::kUnreadable, "SKILL.md is not UTF-8 text");
    case ReadStatus::kTooLarge:
      return error(SkillErrc::kLimit, "SKILL.md is larger than " + mib(limits.max_file_bytes) +
                                          " (" + std::to_string(size) + " bytes)");
    case ReadStatus::kError:
      return error(SkillErrc::kUnreadable, "cannot read SKILL.md: " + why);
  }
  FrontMatter fm = parseFrontMatter(b.content);
  b.name = fm.name.empty() ? key : fm.name;
  b.description = fm.description;

  Walk walk = walkSkillFolder(real, limits);
  if (!walk.error.empty()) return error(SkillErrc::kLimit, walk.error);
  b.skipped = std::move(walk.skipped);
  size_t total = b.content.size();
  for (const auto& f : walk.files) {
    if (f.too_deep) {
      return error(SkillErrc::kLimit, f.rel + " is nested deeper than " +
                                          std::to_string(limits.max_depth) + " folders");
    }
    std::string content;
    switch (readTextFile(f.real, limits.max_file_bytes, &content, &size, &why)) {
      case ReadStatus::kOk:
        break;
      case ReadStatus::kBinary:
        b.skipped.push_back(f.rel + " (binary)");
        continue;
      case ReadStatus::kTooLarge:
        return error(SkillErrc::kLimit, f.rel + " is larger than " + mib(limits.max_file_bytes) +
                                            " (" + std::to_string(size) + " bytes)");
      case ReadStatus::kError:
        return error(SkillErrc::kUnreadable, "cannot read " + f.rel + ": " + why);
    }
    if (b.files.size() == limits.max_files) {
      return error(SkillErrc::kLimit,
                   "more than " + std::to_string(limits.max_files) + " files besides SKILL.md");
    }
    total += content.size();
    if (total > limits.max_bundle_bytes) {
      return error(SkillErrc::kLimit,
                   "the files are larger than " + mib(limits.max_bundle_bytes) + " together");
    }
    b.files.push_back({f.rel, std::move(content)});
  }
  return b;
}

std::string skillListJson(const std::vector<SkillSummary>& skills, const std::string& provider) {
  std::string out = "{\"skills\":[";
  for (size_t i = 0; i < skills.size(); ++i) {
    const SkillSummary& s = skills[i];
    if (i > 0) out += ',';
    JsonObjectWriter w(out);
    w.str("key", s.key);
    w.str("name", s.name);
    w.str("description", s.description);
    w.str("source_path", s.source_path);
    w.str("provider", provider);
    w.str("root", "provider");
    w.integer("file_count", s.file_count);
  }
  out += "],\"supported\":true,\"mcp_servers\":[],\"mcp_supported\":false}";
  return out;
}

std::string skillBundleJson(const SkillBundle& b, const std::string& provider) {
  size_t reserve = b.content.size() + 256;
  for (const auto& f : b.files) reserve += f.path.size() + f.content.size() + 32;
  std::string out;
  out.reserve(reserve + reserve / 8);
  out += "{\"skill\":";
  {
    JsonObjectWriter skill(out);
    skill.str("name", b.name);
    skill.str("description", b.description);
    skill.str("content", b.content);
    skill.str("source_path", b.source_path);
    skill.str("provider", provider);
    std::string files = "[";
    for (size_t i = 0; i < b.files.size(); ++i) {
      if (i > 0) files += ',';
      JsonObjectWriter f(files);
      f.str("path", b.files[i].path);
      f.str("content", b.files[i].content);
    }
    files += ']';
    skill.raw("files", files);
  }
  out += '}';
  return out;
}

}  // namespace courier::daemon
