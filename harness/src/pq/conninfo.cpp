#include "pq/conninfo.hpp"

#include <libpq-fe.h>

#include <cctype>
#include <memory>

#include <fmt/format.h>

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
    throw Error(ExitCode::kUsage, fmt::format("'{}' is not a connection URI: {}", text, why));
  }
  Options out;
  for (const PQconninfoOption* o = parsed.get(); o->keyword; ++o) {
    if (o->val && *o->val) out[o->keyword] = o->val;
  }
  return out;
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
