// SHA-256 of a sequence of fields, for cache keys that must not collide for different contents
// (a 64-bit FNV, stable_hash, cannot promise that).
#pragma once

#define OPENSSL_SUPPRESS_DEPRECATED  // SHA256_Init ...: see below
#include <openssl/sha.h>

#include <string>

#include <fmt/format.h>

#include "pg_unit_tests/error.hpp"

namespace pg_unit_tests::platform {

// Through OpenSSL's libcrypto (libpq loads it anyway), with the SHA256_* functions (deprecated in
// OpenSSL 3, not removed) rather than EVP: EVP_sha256 pulls libcrypto's provider
// machinery into the static link, 4 MB and 16,000 relocations that every start of the CLI paid
// for (bench/cli_startup.cpp); SHA256_* is 38 kB and 3.
class Sha256 {
 public:
  Sha256() {
    if (SHA256_Init(&ctx_) != 1) throw Error(ExitCode::kSystem, "SHA-256 failed (libcrypto)");
  }
  // Length-prefixed, so that no two different sequences of fields hash alike.
  void field(const std::string& text) {
    const std::string length = std::to_string(text.size()) + ":";
    SHA256_Update(&ctx_, length.data(), length.size());
    SHA256_Update(&ctx_, text.data(), text.size());
  }
  std::string hex() {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256_Final(digest, &ctx_);
    std::string out;
    for (unsigned char byte : digest) out += fmt::format("{:02x}", byte);
    return out;
  }

 private:
  SHA256_CTX ctx_;
};

}  // namespace pg_unit_tests::platform
