#include "courier/http/request.h"

#include <gtest/gtest.h>

namespace courier::http {
namespace {

TEST(RequestTest, QueryParamReturnsTheFirstOfThatName) {
  Request req;
  req.query = {{"wait", "10"}, {"version", "3"}, {"wait", "20"}, {"empty", ""}};
  EXPECT_EQ(req.queryParam("wait"), "10");
  EXPECT_EQ(req.queryParam("version"), "3");
  EXPECT_EQ(req.queryParam("empty"), "");
  EXPECT_EQ(req.queryParam("missing"), std::nullopt);
  EXPECT_EQ(req.queryParam("WAIT"), std::nullopt);  // names are case-sensitive
}

TEST(RequestTest, HeaderLookupIgnoresCase) {
  Request req;
  req.headers = {{"Content-Type", "application/json"}, {"X-Courier-Consumer", "d1"}};
  EXPECT_EQ(req.header("content-type"), "application/json");
  EXPECT_EQ(req.header("X-COURIER-CONSUMER"), "d1");
  EXPECT_EQ(req.header("Content-Typ"), std::nullopt);
  EXPECT_EQ(req.header("Authorization"), std::nullopt);
}

TEST(RequestTest, MethodNames) {
  EXPECT_EQ(methodName(Method::kGet), "GET");
  EXPECT_EQ(methodName(Method::kHead), "HEAD");
  EXPECT_EQ(methodName(Method::kPost), "POST");
  EXPECT_EQ(methodName(Method::kPut), "PUT");
  EXPECT_EQ(methodName(Method::kDelete), "DELETE");
  EXPECT_EQ(methodName(Method::kPatch), "PATCH");
  EXPECT_EQ(methodName(Method::kOptions), "OPTIONS");
}

}  // namespace
}  // namespace courier::http
