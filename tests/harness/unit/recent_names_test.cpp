// Unit tests (no server): the pool's memory of dropped database names stays bounded.
#include "pool/recent_names.hpp"

#include <gtest/gtest.h>

#include <string>

using pg_unit_tests::pool::RecentNames;

TEST(RecentNames, RemembersWhatWasInserted) {
  RecentNames r(3);
  r.insert("a");
  r.insert("b");
  EXPECT_TRUE(r.contains("a"));
  EXPECT_TRUE(r.contains("b"));
  EXPECT_FALSE(r.contains("c"));
}

TEST(RecentNames, ForgetsTheOldestBeyondItsCapacity) {
  RecentNames r(3);
  for (int i = 0; i < 10000; ++i) r.insert("pgut_test_" + std::to_string(i));
  EXPECT_EQ(r.size(), 3u);
  EXPECT_FALSE(r.contains("pgut_test_0"));
  EXPECT_FALSE(r.contains("pgut_test_9996"));
  EXPECT_TRUE(r.contains("pgut_test_9997"));
  EXPECT_TRUE(r.contains("pgut_test_9999"));
}

TEST(RecentNames, ANameInsertedTwiceTakesOnePlace) {
  RecentNames r(2);
  r.insert("a");
  r.insert("a");
  r.insert("b");
  EXPECT_TRUE(r.contains("a"));
  EXPECT_TRUE(r.contains("b"));
  EXPECT_EQ(r.size(), 2u);
}
