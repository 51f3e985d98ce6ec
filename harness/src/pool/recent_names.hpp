// The names the pool dropped lately, so that a second dropdb of one says "dropped already".
#pragma once

#include <cstddef>
#include <deque>
#include <set>
#include <string>

namespace pg_unit_tests::pool {

// At most `capacity` names, the oldest forgotten first: a server that lives long and drops a
// database per test must not keep every name. (Hand-written: a set with an insertion order is all
// it takes, and no Debian-packaged library we use has a bounded set.)
class RecentNames {
 public:
  explicit RecentNames(std::size_t capacity) : capacity_(capacity) {}
  void insert(const std::string& name) {
    if (capacity_ == 0 || !names_.insert(name).second) return;
    order_.push_back(name);
    if (order_.size() > capacity_) {
      names_.erase(order_.front());
      order_.pop_front();
    }
  }
  bool contains(const std::string& name) const { return names_.count(name) != 0; }
  std::size_t size() const { return order_.size(); }

 private:
  std::size_t capacity_;
  std::set<std::string> names_;
  std::deque<std::string> order_;
};

}  // namespace pg_unit_tests::pool
