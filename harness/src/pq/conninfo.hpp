// Connection strings: read with libpq's own parser (URIs and keyword/value strings alike), written
// as postgresql:// URIs. The only place the harness takes a connection string apart.
#pragma once

#include <map>
#include <string>

namespace pg_unit_tests::pq {

using Options = std::map<std::string, std::string>;

// The options a URI or keyword/value string sets (those with a value). Throws Error(kUsage) with
// libpq's complaint when it is neither.
Options parse_conninfo(const std::string& text);

// A postgresql:// URI: user (and password) and a TCP host and port in the authority; a socket
// directory (a host starting with '/') and its port as query parameters, as libpq reads them; the
// database as the path; every other option as a query parameter.
std::string make_uri(const Options& options);

// A keyword/value string ("host='/run/x' dbname='it\\'s'"): every value quoted as libpq reads
// it, so that a name with a quote, backslash or space stays one value.
std::string keyword_conninfo(const Options& options);

// The connection string (a URI or keyword/value string, valid or not) with the value of every
// password in it replaced by "****": what messages may quote.
std::string hide_password(const std::string& text);
// The message with every quotation of `uri` in it password-masked.
std::string hide_password(std::string message, const std::string& uri);

// RFC 3986 percent-encoding of everything but unreserved characters (libpq decodes it).
std::string percent_encode(const std::string& text);

}  // namespace pg_unit_tests::pq
