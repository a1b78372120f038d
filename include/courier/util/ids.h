// Identifiers, tokens and their hashes.
#pragma once

#include <string>
#include <string_view>

namespace courier {

// A random opaque id: 22 chars of base64url from 128 bits of a CSPRNG (≥ 122 bits of entropy).
std::string randomId();
// A bearer token: "crt_" + 43 chars of base64url from 256 random bits.
std::string randomToken();
// Lowercase hex SHA-256 of `data` (tokens are stored only as their hash).
std::string sha256Hex(std::string_view data);

// API ids: [A-Za-z0-9_-]{1,64}.
bool isValidId(std::string_view s);
// Consumer header: [A-Za-z0-9_.-]{1,64}.
bool isValidConsumer(std::string_view s);
// Idempotency-Key: [A-Za-z0-9_.:-]{1,128}.
bool isValidIdempotencyKey(std::string_view s);

}  // namespace courier
