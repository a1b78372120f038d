#include "courier/util/json.h"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <cstring>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "courier/util/time.h"

namespace courier {
namespace {

// Iterative: RapidJSON's recursive parser recurses once per nesting level and overflows the stack
// on deep input. ValidateEncoding: without it invalid UTF-8 inside strings is accepted as is.
constexpr unsigned kParseFlags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;

// Sits between the reader and the Document and stops the parse as soon as a container opens past
// the limit, so a hostile 1 MiB of '[' costs 65 pushes, not a million-deep stack.
class DepthLimiter {
 public:
  DepthLimiter(rapidjson::Document& doc, int max_depth) : doc_(doc), max_depth_(max_depth) {}

  bool tooDeep() const { return too_deep_; }

  bool Null() { return doc_.Null(); }
  bool Bool(bool b) { return doc_.Bool(b); }
  bool Int(int i) { return doc_.Int(i); }
  bool Uint(unsigned u) { return doc_.Uint(u); }
  bool Int64(int64_t i) { return doc_.Int64(i); }
  bool Uint64(uint64_t u) { return doc_.Uint64(u); }
  bool Double(double d) { return doc_.Double(d); }
  bool RawNumber(const char* str, rapidjson::SizeType length, bool copy) {
    return doc_.RawNumber(str, length, copy);
  }
  bool String(const char* str, rapidjson::SizeType length, bool copy) {
    return doc_.String(str, length, copy);
  }
  bool Key(const char* str, rapidjson::SizeType length, bool copy) {
    return doc_.Key(str, length, copy);
  }
  bool StartObject() { return enter() && doc_.StartObject(); }
  bool EndObject(rapidjson::SizeType count) {
    --depth_;
    return doc_.EndObject(count);
  }
  bool StartArray() { return enter() && doc_.StartArray(); }
  bool EndArray(rapidjson::SizeType count) {
    --depth_;
    return doc_.EndArray(count);
  }

 private:
  bool enter() {
    if (++depth_ > max_depth_) {
      too_deep_ = true;
      return false;
    }
    return true;
  }

  rapidjson::Document& doc_;
  const int max_depth_;
  int depth_ = 0;
  bool too_deep_ = false;
};

// A key for an error message: JSON-quoted, and cut (on a UTF-8 boundary) if it is long, since it
// may be echoed back in an error body.
std::string quoteKey(std::string_view key) {
  constexpr size_t kMaxShown = 64;
  std::string out;
  if (key.size() <= kMaxShown) {
    appendJsonString(out, key);
    return out;
  }
  size_t cut = kMaxShown;
  while (cut > 0 && (static_cast<unsigned char>(key[cut]) & 0xC0) == 0x80) --cut;
  appendJsonString(out, key.substr(0, cut));
  out.insert(out.size() - 1, "...");
  return out;
}

std::string_view nameOf(const rapidjson::Value& v) { return {v.GetString(), v.GetStringLength()}; }

// Returns the first repeated key of `object`, if any. Small objects (the common case) are checked
// pairwise without allocating; big ones with a hash set, so a body with 100k keys stays linear.
const rapidjson::Value* findDuplicateKey(const rapidjson::Value& object) {
  constexpr rapidjson::SizeType kPairwiseMax = 16;
  if (object.MemberCount() <= kPairwiseMax) {
    for (auto i = object.MemberBegin(); i != object.MemberEnd(); ++i) {
      for (auto j = object.MemberBegin(); j != i; ++j) {
        if (nameOf(i->name) == nameOf(j->name)) return &i->name;
      }
    }
    return nullptr;
  }
  std::unordered_set<std::string_view> seen;
  seen.reserve(object.MemberCount());
  for (auto m = object.MemberBegin(); m != object.MemberEnd(); ++m) {
    if (!seen.insert(nameOf(m->name)).second) return &m->name;
  }
  return nullptr;
}

// Walks the (already depth-limited) tree with an explicit stack: no recursion at all.
const rapidjson::Value* findDuplicateKeyAnywhere(const rapidjson::Value& root) {
  std::vector<const rapidjson::Value*> pending{&root};
  while (!pending.empty()) {
    const rapidjson::Value* v = pending.back();
    pending.pop_back();
    if (v->IsObject()) {
      if (const rapidjson::Value* dup = findDuplicateKey(*v)) return dup;
      for (auto m = v->MemberBegin(); m != v->MemberEnd(); ++m) {
        if (m->value.IsObject() || m->value.IsArray()) pending.push_back(&m->value);
      }
    } else if (v->IsArray()) {
      for (const auto& e : v->GetArray()) {
        if (e.IsObject() || e.IsArray()) pending.push_back(&e);
      }
    }
  }
  return nullptr;
}

std::string parseErrorMessage(rapidjson::ParseErrorCode code, size_t offset) {
  std::string what = rapidjson::GetParseError_En(code);
  if (!what.empty() && what.back() == '.') what.pop_back();
  if (code == rapidjson::kParseErrorStringInvalidEncoding) what += " (invalid UTF-8)";
  return "invalid JSON: " + what + " at offset " + std::to_string(offset);
}

constexpr char kHex[] = "0123456789abcdef";

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not one (overlong forms,
// surrogates and code points past U+10FFFF are invalid, as in RFC 3629).
size_t utf8SequenceLength(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const auto cont = [&](size_t k) { return i + k < s.size() && (b(k) & 0xC0) == 0x80; };
  const unsigned char c = b(0);
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(1) >= 0xA0) return 0;  // UTF-16 surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && b(1) >= 0x90) return 0;  // past U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

Result<Unit, std::string> parseJson(std::string_view text, rapidjson::Document& doc,
                                    int max_depth) {
  // The reader treats a NUL byte as the end of input, so "{}\0junk" would pass: a raw NUL is
  // never valid JSON, reject it up front.
  if (const void* nul = std::memchr(text.data(), '\0', text.size())) {
    doc.SetNull();
    const size_t offset = static_cast<const char*>(nul) - text.data();
    return fail("invalid JSON: NUL byte at offset " + std::to_string(offset));
  }
  rapidjson::MemoryStream stream(text.data(), text.size());
  rapidjson::Reader reader;
  DepthLimiter limiter(doc, max_depth);
  auto generate = [&](rapidjson::Document&) {
    return !reader.Parse<kParseFlags>(stream, limiter).IsError();
  };
  doc.Populate(generate);
  if (reader.HasParseError()) {
    doc.SetNull();
    if (limiter.tooDeep()) {
      return fail("JSON nesting deeper than " + std::to_string(max_depth) + " levels");
    }
    return fail(parseErrorMessage(reader.GetParseErrorCode(), reader.GetErrorOffset()));
  }
  if (const rapidjson::Value* dup = findDuplicateKeyAnywhere(doc)) {
    std::string message = "duplicate key " + quoteKey(nameOf(*dup));
    doc.SetNull();
    return fail(std::move(message));
  }
  return Unit{};
}

namespace {

void writeCanonical(const rapidjson::Value& v, JsonWriter& w) {
  if (v.IsObject()) {
    std::vector<const rapidjson::Value::Member*> members;
    for (const auto& m : v.GetObject()) members.push_back(&m);
    std::sort(members.begin(), members.end(), [](const auto* a, const auto* b) {
      return std::string_view(a->name.GetString(), a->name.GetStringLength()) <
             std::string_view(b->name.GetString(), b->name.GetStringLength());
    });
    w.StartObject();
    for (const auto* m : members) {
      w.Key(m->name.GetString(), m->name.GetStringLength());
      writeCanonical(m->value, w);
    }
    w.EndObject();
  } else if (v.IsArray()) {
    w.StartArray();
    for (const auto& e : v.GetArray()) writeCanonical(e, w);
    w.EndArray();
  } else {
    v.Accept(w);
  }
}

}  // namespace

std::string toCanonicalJson(const rapidjson::Value& value) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  writeCanonical(value, w);
  return std::string(buf.GetString(), buf.GetSize());
}

std::string toJson(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  // Accept fails only on NaN/Infinity, which JSON cannot express; such a value never comes out of
  // parseJson, so a caller that built one has a bug — emit null rather than half a document.
  if (!value.Accept(writer)) return "null";
  return {buffer.GetString(), buffer.GetSize()};
}

void JsonObjectWriter::strOrNull(const char* name, std::string_view v) {
  key(name);
  if (v.empty()) {
    out_ += "null";
  } else {
    appendJsonString(out_, v);
  }
}

void JsonObjectWriter::time(const char* name, int64_t unix_ms) {
  str(name, formatRfc3339Ms(unix_ms));
}

// Escapes quotes, backslash and control characters; valid UTF-8 passes through unchanged. Invalid
// UTF-8 bytes become U+FFFD so the output is always valid JSON, whatever bytes a caller (or a log
// message) hands in.
void appendJsonString(std::string& out, std::string_view s) {
  out.reserve(out.size() + s.size() + 2);
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    // Copy the longest run that needs no escaping in one go: the common case on hot paths.
    size_t run = i;
    while (run < s.size()) {
      const auto c = static_cast<unsigned char>(s[run]);
      if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
      ++run;
    }
    out.append(s.data() + i, run - i);
    i = run;
    if (i == s.size()) break;

    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      if (size_t n = utf8SequenceLength(s, i)) {
        out.append(s.data() + i, n);
        i += n;
      } else {
        out.append("\\ufffd");
        ++i;
      }
      continue;
    }
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xF]);
    }
    ++i;
  }
  out.push_back('"');
}

bool isValidJson(std::string_view text, int max_depth) {
  rapidjson::Document doc;
  return parseJson(text, doc, max_depth).ok();
}

}  // namespace courier
