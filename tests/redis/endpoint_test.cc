#include "courier/redis/endpoint.h"

#include <gtest/gtest.h>

namespace courier::redis {
namespace {

TEST(EndpointTest, ParsesTcpUrls) {
  auto e = parseEndpoint("redis://127.0.0.1:6380");
  ASSERT_TRUE(e.ok()) << e.error();
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, 6380);
  EXPECT_EQ(e->db, 0);
  EXPECT_TRUE(e->unix_path.empty());
  EXPECT_EQ(e->describe(), "127.0.0.1:6380");

  auto db = parseEndpoint("redis://127.0.0.1:6380/3");
  ASSERT_TRUE(db.ok()) << db.error();
  EXPECT_EQ(db->db, 3);
  EXPECT_EQ(db->describe(), "127.0.0.1:6380/3");

  auto def = parseEndpoint("redis://127.0.0.1");
  ASSERT_TRUE(def.ok()) << def.error();
  EXPECT_EQ(def->port, 6379);
}

TEST(EndpointTest, ResolvesNamesOnceToNumericAddresses) {
  auto e = parseEndpoint("redis://localhost:7000");
  ASSERT_TRUE(e.ok()) << e.error();
  EXPECT_EQ(e->host, "127.0.0.1");  // IPv4 preferred
  EXPECT_EQ(e->port, 7000);
}

TEST(EndpointTest, ParsesBracketedIpv6) {
  auto e = parseEndpoint("redis://[::1]:7001/2");
  ASSERT_TRUE(e.ok()) << e.error();
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->port, 7001);
  EXPECT_EQ(e->db, 2);
  EXPECT_EQ(e->describe(), "[::1]:7001/2");
}

TEST(EndpointTest, ParsesUnixUrls) {
  auto e = parseEndpoint("unix:///tmp/redis.sock");
  ASSERT_TRUE(e.ok()) << e.error();
  EXPECT_EQ(e->unix_path, "/tmp/redis.sock");
  EXPECT_TRUE(e->host.empty());
  EXPECT_EQ(e->describe(), "unix:///tmp/redis.sock");

  auto db = parseEndpoint("unix:///tmp/redis.sock?db=5");
  ASSERT_TRUE(db.ok()) << db.error();
  EXPECT_EQ(db->db, 5);
  EXPECT_EQ(db->unix_path, "/tmp/redis.sock");
}

TEST(EndpointTest, RejectsBadUrlsWithAReason) {
  struct Case {
    const char* url;
    const char* mentions;
  };
  const Case cases[] = {
      {"", "expected redis://"},
      {"http://127.0.0.1:6379", "expected redis://"},
      {"redis://", "missing host"},
      {"redis://:6379", "missing host"},
      {"redis://127.0.0.1:", "empty port"},
      {"redis://127.0.0.1:0", "port"},
      {"redis://127.0.0.1:65536", "port"},
      {"redis://127.0.0.1:http", "port"},
      {"redis://127.0.0.1:6379/x", "database"},
      {"redis://127.0.0.1:6379/-1", "database"},
      {"redis://user:pw@127.0.0.1:6379", "credentials"},
      {"redis://127.0.0.1:6379?timeout=1", "query"},
      {"redis://::1:6379", "brackets"},
      {"redis://[::1:6379", "unterminated"},
      {"redis://no-such-host.invalid:6379", "cannot resolve"},
      {"unix://relative.sock", "absolute"},
      {"unix://", "absolute"},
      {"unix:///tmp/x.sock?db=x", "db=N"},
      {"unix:///tmp/x.sock?foo=1", "db=N"},
  };
  for (const Case& c : cases) {
    auto e = parseEndpoint(c.url);
    ASSERT_FALSE(e.ok()) << c.url;
    EXPECT_NE(e.error().find(c.mentions), std::string::npos) << c.url << " → " << e.error();
    EXPECT_NE(e.error().find(c.url), std::string::npos) << "quotes the URL: " << e.error();
  }
  auto long_path = parseEndpoint("unix:///" + std::string(200, 'x'));
  ASSERT_FALSE(long_path.ok());
  EXPECT_NE(long_path.error().find("longer than"), std::string::npos);
}

}  // namespace
}  // namespace courier::redis
