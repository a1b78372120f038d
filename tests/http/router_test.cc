#include "courier/http/router.h"

#include <event2/http.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>
#include <vector>

namespace courier::http {
namespace {

// The statuses of replies, via the process-wide observer. A Responder built on a free-standing
// evhttp_request (no connection) replies for real: evhttp frees the request at once.
std::vector<int> g_statuses;
std::vector<uint32_t> g_tags;  // the route tag of each reply

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_statuses.clear();
    g_tags.clear();
    Responder::setObserver([](int status, uint32_t tag) {
      g_statuses.push_back(status);
      g_tags.push_back(tag);
    });
  }
  void TearDown() override { Responder::setObserver(nullptr); }

  static Responder responder() { return Responder(evhttp_request_new(nullptr, nullptr)); }

  static Request request(Method method, std::string path) {
    Request req;
    req.method = method;
    req.path = std::move(path);
    return req;
  }

  // Dispatches and returns the route name; records what the matched handler saw.
  std::string dispatch(Method method, std::string path) {
    std::string route;
    router_.dispatch(request(method, std::move(path)), responder(), &route);
    return route;
  }

  // A handler that remembers its params and answers 200.
  Handler recordingHandler(std::string name) {
    return [this, name](Request&& req, Params&& params, Responder&& res) {
      handled_ = name;
      seen_path_ = req.path;
      params_ = std::move(params);
      res.send(200, "{}");
    };
  }

  Router router_;
  std::string handled_;
  std::string seen_path_;
  Params params_;
};

TEST_F(RouterTest, MatchesLiteralRouteAndCallsItsHandler) {
  router_.add(Method::kGet, "/health", "health", recordingHandler("health"));
  EXPECT_EQ(dispatch(Method::kGet, "/health"), "health");
  EXPECT_EQ(handled_, "health");
  EXPECT_EQ(seen_path_, "/health");
  EXPECT_EQ(g_statuses, std::vector<int>{200});
}

TEST_F(RouterTest, ExtractsPlaceholders) {
  router_.add(Method::kGet, "/api/runtimes/{rt}/requests/{id}", "get_request",
              recordingHandler("get_request"));
  EXPECT_EQ(dispatch(Method::kGet, "/api/runtimes/r-1/requests/abc_2"), "get_request");
  EXPECT_EQ(params_.get("rt"), "r-1");
  EXPECT_EQ(params_.get("id"), "abc_2");
  EXPECT_EQ(params_.get("missing"), "");
  ASSERT_EQ(params_.values.size(), 2u);
  EXPECT_EQ(params_.values[0].first, "rt");
  EXPECT_EQ(params_.values[1].first, "id");
}

TEST_F(RouterTest, SegmentsMustMatchExactly) {
  router_.add(Method::kGet, "/api/runtimes/{rt}", "get_runtime", recordingHandler("rt"));
  EXPECT_EQ(dispatch(Method::kGet, "/api/runtimes"), "not_found");
  EXPECT_EQ(dispatch(Method::kGet, "/api/runtimes/"), "not_found");  // empty placeholder
  EXPECT_EQ(dispatch(Method::kGet, "/api/runtimes/a/b"), "not_found");
  EXPECT_EQ(dispatch(Method::kGet, "/api/runtime/a"), "not_found");
  EXPECT_EQ(dispatch(Method::kGet, "/api/runtimes/a"), "get_runtime");
  EXPECT_EQ(handled_, "rt");
  EXPECT_EQ(g_statuses, (std::vector<int>{404, 404, 404, 404, 200}));
}

TEST_F(RouterTest, UnknownPathIs404) {
  router_.add(Method::kGet, "/a", "a", recordingHandler("a"));
  EXPECT_EQ(dispatch(Method::kGet, "/b"), "not_found");
  EXPECT_EQ(handled_, "");
  EXPECT_EQ(g_statuses, std::vector<int>{404});
  EXPECT_EQ(g_tags, std::vector<uint32_t>{Router::kTagNotFound});
}

TEST_F(RouterTest, KnownPathOtherMethodIs405) {
  router_.add(Method::kGet, "/things/{id}", "get_thing", recordingHandler("get"));
  router_.add(Method::kDelete, "/things/{id}", "delete_thing", recordingHandler("delete"));
  EXPECT_EQ(dispatch(Method::kPost, "/things/1"), "method_not_allowed");
  EXPECT_EQ(handled_, "");
  EXPECT_EQ(dispatch(Method::kDelete, "/things/1"), "delete_thing");
  EXPECT_EQ(handled_, "delete");
  EXPECT_EQ(g_statuses, (std::vector<int>{405, 200}));
  // Each reply carries its route's tag, and the tags name the routes.
  ASSERT_EQ(g_tags.size(), 2u);
  EXPECT_EQ(g_tags[0], Router::kTagMethodNotAllowed);
  EXPECT_EQ(router_.routeNames().at(g_tags[1]), "delete_thing");
}

TEST_F(RouterTest, LiteralBeatsPlaceholderWhicheverIsAddedFirst) {
  router_.add(Method::kPost, "/api/runtimes/{rt}/local-skills/{id}", "skill",
              recordingHandler("skill"));
  router_.add(Method::kPost, "/api/runtimes/{rt}/local-skills/import", "import",
              recordingHandler("import"));
  EXPECT_EQ(dispatch(Method::kPost, "/api/runtimes/r1/local-skills/import"), "import");
  EXPECT_EQ(params_.get("rt"), "r1");
  EXPECT_EQ(params_.get("id"), "");
  EXPECT_EQ(dispatch(Method::kPost, "/api/runtimes/r1/local-skills/s9"), "skill");
  EXPECT_EQ(params_.get("id"), "s9");
}

TEST_F(RouterTest, LiteralEarlierInThePathWins) {
  router_.add(Method::kGet, "/{a}/x", "placeholder_first", recordingHandler("p"));
  router_.add(Method::kGet, "/lit/{b}", "literal_first", recordingHandler("l"));
  EXPECT_EQ(dispatch(Method::kGet, "/lit/x"), "literal_first");
  EXPECT_EQ(dispatch(Method::kGet, "/other/x"), "placeholder_first");
}

TEST_F(RouterTest, EquallySpecificRoutesFirstAddedWins) {
  router_.add(Method::kGet, "/a/{x}", "first", recordingHandler("first"));
  router_.add(Method::kGet, "/a/{y}", "second", recordingHandler("second"));
  EXPECT_EQ(dispatch(Method::kGet, "/a/1"), "first");
  EXPECT_EQ(params_.get("x"), "1");
}

TEST_F(RouterTest, LiteralRouteOfAnotherMethodFallsBackToPlaceholderRoute) {
  router_.add(Method::kPost, "/skills/import", "import", recordingHandler("import"));
  router_.add(Method::kGet, "/skills/{id}", "get_skill", recordingHandler("get_skill"));
  EXPECT_EQ(dispatch(Method::kGet, "/skills/import"), "get_skill");
  EXPECT_EQ(params_.get("id"), "import");
  EXPECT_EQ(dispatch(Method::kPut, "/skills/import"), "method_not_allowed");
}

TEST_F(RouterTest, RootPath) {
  router_.add(Method::kGet, "/", "root", recordingHandler("root"));
  EXPECT_EQ(dispatch(Method::kGet, "/"), "root");
  EXPECT_EQ(dispatch(Method::kGet, "/x"), "not_found");
}

TEST_F(RouterTest, HandlerReceivesTheRequest) {
  Request seen;
  router_.add(Method::kPost, "/echo", "echo", [&](Request&& req, Params&&, Responder&& res) {
    seen = std::move(req);
    res.send(204, "");
  });
  Request req = request(Method::kPost, "/echo");
  req.body = "payload";
  req.query = {{"a", "1"}};
  router_.dispatch(std::move(req), responder());
  EXPECT_EQ(seen.body, "payload");
  EXPECT_EQ(seen.queryParam("a"), "1");
  EXPECT_EQ(g_statuses, std::vector<int>{204});
}

TEST(ErrorBodyTest, Shape) {
  EXPECT_EQ(errorBody("not_found", "no route for /x"),
            R"({"error":"no route for /x","code":"not_found"})");
}

TEST(ErrorBodyTest, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(errorBody("c", "a\"b\\c\nd\te\x01"), R"({"error":"a\"b\\c\nd\te\u0001","code":"c"})");
}

TEST(ErrorBodyTest, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(errorBody("c", "caf\xC3\xA9 \xF0\x9F\x98\x80"),
            "{\"error\":\"caf\xC3\xA9 \xF0\x9F\x98\x80\",\"code\":\"c\"}");
  // A lone continuation byte, a truncated sequence, an overlong '/' and an encoded surrogate.
  std::string body = errorBody("c", "\x80|\xE2\x82|\xC0\xAF|\xED\xA0\x80");
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(body.data(), body.size());
  ASSERT_FALSE(doc.HasParseError()) << body;
  EXPECT_EQ(std::string(doc["error"].GetString()),
            "\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD|"
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

}  // namespace
}  // namespace courier::http
