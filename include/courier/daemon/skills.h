// Local skills as the daemon serves them: the YAML front matter of a SKILL.md, the skill folders
// of the configured skills dirs (local_skill_list), and one skill's bundle (local_skill_import).
//
// Every function reads the disk afresh and is blocking: the daemon calls them on a worker thread,
// never on its event loop. They never throw (std::filesystem is used through its error_code
// overloads).
//
// What a bundle holds (the rules the tests pin down):
// - the skill is the folder `<dir>/<key>` of the first skills dir that has one with a SKILL.md;
//   a key is one plain path component (no '/', not "." or "..", not hidden), else "not found";
// - `content` is SKILL.md's text; `files` are the folder's other regular files, with paths
//   relative to the folder ('/'-separated, sorted), nested at most 4 folders deep;
// - symlinks are followed only when their target stays inside the skill folder (anything else
//   is skipped: a skill cannot leak ~/.ssh through a link); the skill folder itself may be a link;
// - `.git`, `.hg`, `.svn` folders and `.DS_Store` files are skipped, as are fifos, sockets and
//   devices;
// - binary files are skipped, not sent: the wire format `{path, content}` carries text only, and
//   base64 would silently turn an image into a text file of letters. A file is binary when its
//   first 8 KiB hold a NUL byte (checked before any size limit, so a big image does not fail an
//   import), or when it is not valid UTF-8. Names that are not UTF-8 are skipped the same way;
// - limits (anything over fails the import with a message naming the file): 1 MiB a file, 8 MiB
//   for SKILL.md plus all files, 256 files besides SKILL.md, 4 folders deep, and 10000
//   directory entries visited.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "courier/util/result.h"

namespace courier::daemon {

struct SkillLimits {
  size_t max_file_bytes = 1 << 20;    // one file (SKILL.md included)
  size_t max_bundle_bytes = 8 << 20;  // SKILL.md plus every file
  size_t max_files = 256;             // files besides SKILL.md
  int max_depth = 4;                  // folders a file may sit in below the skill folder
  size_t max_entries = 10000;         // directory entries visited in one skill folder
};

struct FrontMatter {
  bool present = false;  // the text opens with a closed `---` block
  std::string name;
  std::string description;
};

struct SkillSummary {
  std::string key;          // the folder name
  std::string name;         // front matter `name`, else the key
  std::string description;  // front matter `description`, else ""
  std::string source_path;  // the skill folder as configured (absolute if the dir was)
  size_t file_count = 0;    // files an import would send besides SKILL.md (binaries included)
};

struct SkillFile {
  std::string path;  // relative to the skill folder, '/'-separated
  std::string content;
};

struct SkillBundle {
  std::string key;
  std::string name;
  std::string description;
  std::string content;  // SKILL.md
  std::string source_path;
  std::vector<SkillFile> files;
  std::vector<std::string> skipped;  // "path (why)", for the log
};

enum class SkillErrc { kNotFound, kLimit, kUnreadable };
using SkillError = Error<SkillErrc>;

// Parses the front matter of a SKILL.md: a first line "---", then YAML up to a line "---" (or
// "..."). Reads the top-level `name` and `description` keys — plain, single- or double-quoted,
// multi-line, and `|`/`>` block scalars — and ignores everything else (nested mappings, lists,
// other keys). Not a full YAML parser: anchors, tags and flow collections are not values it
// returns. Without a closed block, `present` is false and both fields are empty.
FrontMatter parseFrontMatter(std::string_view text);

// True for a key that names a folder directly inside a skills dir: one path component, not
// hidden, no separators or NUL, at most 255 bytes.
bool isSafeSkillKey(std::string_view key);

// The skills of every dir, in dir order, each dir's folders sorted by key; a key already seen in
// an earlier dir is shadowed (like PATH). Missing or unreadable dirs, hidden folders and folders
// without a SKILL.md are left out. Reads each SKILL.md (front matter) and walks each folder to
// count its files, but reads no other file.
std::vector<SkillSummary> listSkills(const std::vector<std::string>& dirs,
                                     const SkillLimits& limits = {});

// The bundle of skill `key`: SKILL.md and its folder's files within the limits. kNotFound ("skill
// not found: KEY") for an unsafe key or one no dir has; kLimit for a bundle over a limit;
// kUnreadable for a file that cannot be read.
Result<SkillBundle, SkillError> loadSkill(const std::vector<std::string>& dirs,
                                          const std::string& key, const SkillLimits& limits = {});

// {"skills": [Summary...], "supported": true, "mcp_servers": [], "mcp_supported": false}, the
// local_skill_list result (COMPAT.md Summary, root "provider").
std::string skillListJson(const std::vector<SkillSummary>& skills, const std::string& provider);

// {"skill": {name, description, content, source_path, provider, files: [{path, content}]}}, the
// local_skill_import result.
std::string skillBundleJson(const SkillBundle& b, const std::string& provider);

}  // namespace courier::daemon
