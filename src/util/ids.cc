#include "courier/util/ids.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/random.h>

#include <cstdio>
#include <cstdlib>

namespace courier {
namespace {

constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Fills `buf` from OpenSSL's CSPRNG, falling back to the kernel's. Ids and tokens are
// security-relevant (a guessable token is a stolen account), so if neither source works the
// process stops rather than hand out predictable values.
void secureRandom(unsigned char* buf, size_t n) {
  if (RAND_bytes(buf, static_cast<int>(n)) == 1) return;
  size_t filled = 0;
  while (filled < n) {
    const ssize_t got = getrandom(buf + filled, n - filled, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      std::fputs("courier: no secure random source available\n", stderr);
      std::abort();
    }
    filled += static_cast<size_t>(got);
  }
}

// Base64url without padding: 4 chars per 3 bytes, 2 or 3 chars for a 1- or 2-byte tail.
std::string base64Url(const unsigned char* data, size_t n) {
  std::string out;
  out.reserve((n * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
    out.push_back(kBase64Url[(v >> 18) & 63]);
    out.push_back(kBase64Url[(v >> 12) & 63]);
    out.push_back(kBase64Url[(v >> 6) & 63]);
    out.push_back(kBase64Url[v & 63]);
  }
  if (i < n) {
    uint32_t v = uint32_t{data[i]} << 16;
    if (i + 1 < n) v |= uint32_t{data[i + 1]} << 8;
    out.push_back(kBase64Url[(v >> 18) & 63]);
    out.push_back(kBase64Url[(v >> 12) & 63]);
    if (i + 1 < n) out.push_back(kBase64Url[(v >> 6) & 63]);
  }
  return out;
}

template <size_t N>
std::string randomBase64Url() {
  unsigned char buf[N];
  secureRandom(buf, N);
  return base64Url(buf, N);
}

bool isAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// True if `s` has 1..max_len chars, each alphanumeric or one of `extra`.
bool matchesCharset(std::string_view s, size_t max_len, std::string_view extra) {
  if (s.empty() || s.size() > max_len) return false;
  for (char c : s) {
    if (!isAlnum(c) && extra.find(c) == std::string_view::npos) return false;
  }
  return true;
}

}  // namespace

std::string randomId() { return randomBase64Url<16>(); }

std::string randomToken() { return "crt_" + randomBase64Url<32>(); }

std::string sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr) != 1) {
    // Only fails on allocation failure inside OpenSSL; a wrong hash would lock users out or,
    // worse, match the wrong token, so do not carry on.
    std::fputs("courier: SHA-256 failed\n", stderr);
    std::abort();
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xF]);
  }
  return out;
}

bool isValidId(std::string_view s) { return matchesCharset(s, 64, "_-"); }

bool isValidConsumer(std::string_view s) { return matchesCharset(s, 64, "_.-"); }

bool isValidIdempotencyKey(std::string_view s) { return matchesCharset(s, 128, "_.:-"); }

}  // namespace courier
