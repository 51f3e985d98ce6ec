// GoogleTest integration: one ephemeral server for a whole test program.
//
//   int main(int argc, char** argv) {
//     ::testing::InitGoogleTest(&argc, argv);
//     ::testing::AddGlobalTestEnvironment(new pg_unit_tests::ServerEnvironment());
//     return RUN_ALL_TESTS();
//   }
//   TEST(Orders, Insert) { PGconn* c =
//   PQconnectdb(pg_unit_tests::ServerEnvironment::uri().c_str()); ... }
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <stdexcept>

#include "pg_unit_tests/server.hpp"

namespace pg_unit_tests {

class ServerEnvironment : public ::testing::Environment {
 public:
  explicit ServerEnvironment(ServerOptions options = {}) : options_(std::move(options)) {}

  void SetUp() override {
    server_.emplace(Server::start(options_));
    current() = this;
  }
  void TearDown() override {
    server_.reset();
    current() = nullptr;
  }

  // The server of the registered environment (valid between SetUp and TearDown).
  static const Server& server() {
    if (!current() || !current()->server_) {
      throw std::logic_error("pg_unit_tests::ServerEnvironment is not set up");
    }
    return *current()->server_;
  }
  static const std::string& uri() { return server().uri(); }

 private:
  static ServerEnvironment*& current() {
    static ServerEnvironment* env = nullptr;
    return env;
  }
  ServerOptions options_;
  std::optional<Server> server_;
};

}  // namespace pg_unit_tests
