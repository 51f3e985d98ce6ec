#include "pq/conninfo.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include <fmt/format.h>

#include "pg_unit_tests/database.hpp"
#include "pg_unit_tests/error.hpp"

namespace pg_unit_tests::pq {

Options parse_conninfo(const std::string& text) {
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> parsed(
      PQconninfoParse(text.c_str(), &error), &PQconninfoFree);
  if (!parsed) {
    std::string why = error ? error : "out of memory";
    PQfreemem(error);
    while (!why.empty() && why.back() == '\n') why.pop_back();
    why = hide_password(why, text);  // libpq quotes the URI too
    throw Error(ExitCode::kUsage,
                fmt::format("'{}' is not a connection URI: {}", hide_password(text), why));
  }
  Options out;
  for (const PQconninfoOption* o = parsed.get(); o->keyword; ++o) {
    if (o->val && *o->val) out[o->keyword] = o->val;
  }
  return out;
}

namespace {

constexpr const char* kMask = "****";

// A URI's password: in the user information (user:password@) and as a query parameter.
std::string hide_uri_password(std::string uri) {
  const size_t start = uri.find("://") + 3;
  const size_t end = std::min(uri.find('/', start), uri.find('?', start));
  const size_t at = end == std::string::npos ? uri.rfind('@') : uri.rfind('@', end);
  if (at != std::string::npos && at >= start) {
    const size_t colon = uri.find(':', start);
    if (colon < at) uri.replace(colon + 1, at - colon - 1, kMask);
  }
  for (size_t q = uri.find('?'); q != std::string::npos; q = uri.find('&', q + 1)) {
    if (uri.compare(q + 1, 9, "password=") != 0) continue;
    const size_t value = q + 10;
    uri.replace(value, std::min(uri.find('&', value), uri.size()) - value, kMask);
  }
  return uri;
}

// keyword = value pairs as libpq reads them: a value is quoted ('...', \ escapes) or runs to the
// next space.
std::string hide_keyword_password(const std::string& text) {
  std::string out;
  size_t i = 0;
  auto spaces = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) out += text[i++];
  };
  while (i < text.size()) {
    spaces();
    const size_t key = i;
    while (i < text.size() && text[i] != '=' && !std::isspace(static_cast<unsigned char>(text[i])))
      ++i;
    const std::string keyword = text.substr(key, i - key);
    out += keyword;
    spaces();
    if (i >= text.size() || text[i] != '=') continue;  // not a pair: libpq rejects it anyway
    out += text[i++];
    spaces();
    const size_t value = i;
    if (i < text.size() && text[i] == '\'') {
      for (++i; i < text.size() && text[i] != '\''; ++i) {
        if (text[i] == '\\') ++i;
      }
      if (i < text.size()) ++i;
    } else {
      while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) {
        if (text[i] == '\\') ++i;
        ++i;
      }
    }
    i = std::min(i, text.size());
    out += keyword == "password" ? kMask : text.substr(value, i - value);
  }
  return out;
}

}  // namespace

std::string hide_password(std::string message, const std::string& uri) {
  const std::string hidden = hide_password(uri);
  if (hidden == uri || uri.empty()) return message;
  for (size_t at = 0; (at = message.find(uri, at)) != std::string::npos; at += hidden.size()) {
    message.replace(at, uri.size(), hidden);
  }
  return message;
}

std::string hide_password(const std::string& text) {
  if (text.rfind("postgresql://", 0) == 0 || text.rfind("postgres://", 0) == 0) {
    return hide_uri_password(text);
  }
  return hide_keyword_password(text);
}

std::string percent_encode(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string keyword_conninfo(const Options& options) {
  std::string out;
  for (const auto& [keyword, value] : options) {
    if (!out.empty()) out += ' ';
    out += keyword + "='";
    for (const char c : value) {
      if (c == '\'' || c == '\\') out += '\\';
      out += c;
    }
    out += '\'';
  }
  return out;
}

std::string make_uri(const Options& options) {
  Options rest = options;
  auto take = [&](const char* key) {
    auto it = rest.find(key);
    if (it == rest.end()) return std::string();
    std::string v = std::move(it->second);
    rest.erase(it);
    return v;
  };
  const std::string user = take("user"), password = take("password"), dbname = take("dbname");
  std::string host = take("host"), port = take("port");
  std::string uri = "postgresql://";
  if (!user.empty() || !password.empty()) {
    uri += percent_encode(user);
    if (!password.empty()) uri += ":" + percent_encode(password);
    uri += "@";
  }
  std::string query;
  auto param = [&](const std::string& key, const std::string& value) {
    query += (query.empty() ? "?" : "&") + key + "=" + percent_encode(value);
  };
  if (!host.empty() && host[0] != '/') {
    uri += host.find(':') != std::string::npos ? "[" + host + "]" : host;  // IPv6 literal
    if (!port.empty()) uri += ":" + port;
  } else {
    if (!host.empty()) param("host", host);
    if (!port.empty()) param("port", port);
  }
  uri += "/" + percent_encode(dbname);
  for (const auto& [key, value] : rest) param(key, value);
  return uri + query;
}

}  // namespace pg_unit_tests::pq

namespace pg_unit_tests {

std::string hide_password(const std::string& uri) {
  return pq::hide_password(uri);
}

std::string hide_password(const std::string& message, const std::string& uri) {
  return pq::hide_password(message, uri);
}

}  // namespace pg_unit_tests
