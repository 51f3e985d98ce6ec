#include "cli/commands.hpp"

#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "pg_unit_tests/cache.hpp"
#include "pg_unit_tests/command.hpp"
#include "pg_unit_tests/database.hpp"
#include "pg_unit_tests/error.hpp"

namespace pg_unit_tests::cli {

namespace {

std::string human_bytes(std::uintmax_t b) {
  if (b >= (1u << 20)) return fmt::format("{:.1f} MiB", static_cast<double>(b) / (1 << 20));
  if (b >= (1u << 10)) return fmt::format("{:.0f} KiB", static_cast<double>(b) / (1 << 10));
  return fmt::format("{} B", b);
}

}  // namespace

ServerOptions StartArgs::to_options() const {
  ServerOptions o;
  o.tcp = tcp;
  o.idle_timeout = std::chrono::seconds(idle_timeout);
  o.owner_pid = owner;
  for (const auto& s : options) {
    for (auto& setting : parse_option_string(s)) o.settings.push_back(std::move(setting));
  }
  o.locale = locale;
  o.encoding = encoding;
  o.pg_config = pg_config;
  for (const auto& e : extensions) o.extensions.emplace_back(e);
  o.create = create;
  o.freeze = freeze;
  o.preload_pg_unit_tests = !stock;
  o.init.assign(init.begin(), init.end());
  o.init_command = init_command;
  o.init_key.assign(init_key.begin(), init_key.end());
  return o;
}

// A small shell-like tokenizer (quotes and backslashes) for pg_ctl-style -o strings; the libraries
// we use have none, and wordexp(3) would run command substitutions.
std::vector<std::string> parse_option_string(const std::string& text) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < text.size()) {
        cur.push_back(text[++i]);
      } else {
        cur.push_back(c);
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < text.size()) {
      cur.push_back(text[++i]);
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::move(cur));
      cur.clear();
      in_word = false;
    } else {
      cur.push_back(c);
      in_word = true;
    }
  }
  if (quote) {
    throw Error(ExitCode::kUsage, fmt::format("-o '{}': unterminated quote", text));
  }
  if (in_word) words.push_back(std::move(cur));

  std::vector<std::string> settings;
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w == "-c" && i + 1 < words.size()) {
      settings.push_back(words[++i]);
    } else if ((w.rfind("-c", 0) == 0 && w.size() > 2) ||
               (w.rfind("--", 0) == 0 && w.find('=') != std::string::npos)) {
      settings.push_back(w.substr(2));  // -cname=value, --name=value
    } else if (w.find('=') != std::string::npos && w[0] != '-') {
      settings.push_back(w);
    } else {
      throw Error(ExitCode::kUsage, fmt::format("-o '{}': '{}' is not a setting; write settings as "
                                                "\"-c name=value -c name=value\"",
                                                text, w));
    }
  }
  // '-' in names is accepted by postgres on the command line; normalise to '_'.
  for (auto& s : settings) {
    const size_t eq = s.find('=');
    for (size_t i = 0; i < eq && eq != std::string::npos; ++i) {
      if (s[i] == '-') s[i] = '_';
    }
  }
  return settings;
}

std::string shell_exports(const Environment& environment) {
  std::string out;
  for (const auto& [name, value] : environment) {
    if (value.empty()) {
      out.append("unset ").append(name).append("\n");
      continue;
    }
    std::string quoted = "'";
    for (char c : value) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    out.append("export ").append(name).append("=").append(quoted).append("'\n");
  }
  return out;
}

int start(const StartArgs& args, StartOutput output) {
  const ServerInfo info = Server::start_detached(args.to_options());
  switch (output) {
    case StartOutput::kUri:
      std::printf("%s\n", info.uri.c_str());
      break;
    case StartOutput::kJson:
      std::printf("%s\n", info.to_json().c_str());
      break;
    case StartOutput::kEnv:
      std::fputs(shell_exports(connection_environment(info.uri)).c_str(), stdout);
      break;
  }
  std::fflush(stdout);
  return 0;
}

int stop(const std::vector<std::string>& targets, bool all) {
  if (targets.empty() && !all) {
    throw Error(ExitCode::kUsage, "stop needs the URI that start printed (or --all)");
  }
  if (all) Server::stop_all();
  for (const auto& t : targets) Server::stop(t);
  return 0;
}

int exec(const StartArgs& args, const std::vector<std::string>& command, int databases) {
  if (command.empty()) {
    throw Error(ExitCode::kUsage,
                "exec needs a command after '--', as in: pg_unit_tests exec -- psql -c 'select 1'");
  }
  find_command(command[0]);  // before a server is started for nothing
  const InterruptibleStart interruptible;
  Server server = Server::start(args.to_options());
  Environment environment = server.environment();
  std::vector<Database> workers;
  if (databases > 0) {
    // All asked for at once: the pool clones them side by side.
    DatabaseOptions o;
    o.pool_size = databases;
    std::string names;
    for (int i = 0; i < databases; ++i) {
      o.label = fmt::format("exec worker {}", i);
      workers.push_back(Database::create(server.uri(), o));
      names += (i ? "," : "") + workers.back().name();
      environment.emplace_back(fmt::format("DATABASE_URL_{}", i), workers.back().uri());
    }
    environment.emplace_back("PG_UNIT_TESTS_DATABASES", names);
  }
  const int status = run_command(command, environment);
  for (auto& w : workers) w.release();  // they go with the server
  server.stop();
  return status;
}

int list(bool json) {
  const auto servers = Server::list();
  if (json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& s : servers) j.push_back(nlohmann::json::parse(s.to_json()));
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  for (const auto& s : servers) {
    std::printf("%s  pid %d  %s\n", s.uri.c_str(), s.pid, s.directory.c_str());
    for (const auto& d : s.databases) {
      const std::string lifetime = d.owner_pid > 0
                                       ? fmt::format("until process {} ends", d.owner_pid)
                                       : std::string("until dropdb or the server stops");
      std::printf("  database %s  from %s  %s%s\n", d.name.c_str(),
                  d.template_name.empty() ? "the default template" : d.template_name.c_str(),
                  lifetime.c_str(), d.label.empty() ? "" : (", " + d.label).c_str());
    }
  }
  return 0;
}

int cache_warm(const StartArgs& args, int servers) {
  cache::warm(args.to_options(), servers);
  return cache_status(false);
}

int cache_status(bool json) {
  const cache::Status st = cache::status();
  if (json) {
    nlohmann::json j = {{"directory", st.directory}, {"in_memory", st.in_memory}};
    j["items"] = nlohmann::json::array();
    for (const auto& i : st.items) {
      nlohmann::json item = {{"kind", i.kind},
                             {"key", i.key},
                             {"path", i.path},
                             {"bytes", i.bytes},
                             {"detail", i.detail}};
      if (i.kind == "migrated") {
        item["init"] = {{"files", i.init_files},
                        {"command", i.init_command},
                        {"directory", i.init_directory},
                        {"key", i.init_key}};
        item["last_used"] = i.last_used;
      }
      if (!i.version.empty()) item["version"] = i.version;
      j["items"].push_back(std::move(item));
    }
    j["servers"] = st.servers.size();
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::uintmax_t total = 0;
  std::printf("cache: %s (%s)\n", st.directory.c_str(),
              st.in_memory ? "tmpfs, in memory" : "on disk");
  for (const auto& i : st.items) {
    total += i.bytes;
    std::printf("  %-8s %s  %9s  %s\n", i.kind.c_str(), i.key.c_str(), human_bytes(i.bytes).c_str(),
                i.detail.c_str());
  }
  std::printf("total %s in %zu entries; %zu server(s) running\n", human_bytes(total).c_str(),
              st.items.size(), st.servers.size());
  return 0;
}

int cache_clear() {
  const auto removed = cache::clear();
  std::uintmax_t total = 0;
  for (const auto& i : removed) total += i.bytes;
  std::printf("removed %zu entries (%s)\n", removed.size(), human_bytes(total).c_str());
  return 0;
}

}  // namespace pg_unit_tests::cli
