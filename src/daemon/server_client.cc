#include "courier/daemon/server_client.h"

#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>

#include "courier/util/json.h"

namespace courier::daemon {
namespace {

constexpr size_t kMaxIdleConnections = 4;

}  // namespace

std::string ServerUrl::hostHeader() const {
  const bool v6 = host.find(':') != std::string::npos;
  std::string h = v6 ? "[" + host + "]" : host;
  return port == 80 ? h : h + ":" + std::to_string(port);
}

std::string ServerUrl::describe() const { return "http://" + hostHeader() + base_path; }

Result<ServerUrl, std::string> parseServerUrl(const std::string& text) {
  evhttp_uri* uri = evhttp_uri_parse(text.c_str());
  if (uri == nullptr) return fail("--server: not a URL: \"" + text + "\"");
  ServerUrl url;
  const char* scheme = evhttp_uri_get_scheme(uri);
  const char* host = evhttp_uri_get_host(uri);
  const char* path = evhttp_uri_get_path(uri);
  const std::string s = scheme != nullptr ? scheme : "";
  const bool has_query = evhttp_uri_get_query(uri) != nullptr;
  url.host = host != nullptr ? host : "";
  url.port = evhttp_uri_get_port(uri) < 0 ? 80 : evhttp_uri_get_port(uri);
  url.base_path = path != nullptr ? path : "";
  evhttp_uri_free(uri);
  if (s != "http") {
    return fail("--server must be an http:// URL (no TLS: put a proxy in front), got \"" + text +
                "\"");
  }
  if (url.host.empty()) return fail("--server has no host: \"" + text + "\"");
  if (has_query) return fail("--server must not have a query: \"" + text + "\"");
  if (url.host.front() == '[' && url.host.back() == ']')
    url.host = url.host.substr(1, url.host.size() - 2);
  while (!url.base_path.empty() && url.base_path.back() == '/') url.base_path.pop_back();
  return url;
}

std::string HttpReply::code() const {
  rapidjson::Document doc;
  if (!parseJson(body, doc) || !doc.IsObject()) return "";
  auto it = doc.FindMember("code");
  return it != doc.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
}

std::string HttpReply::describe() const {
  if (status == 0) return error.empty() ? "no response" : error;
  std::string out = std::to_string(status);
  rapidjson::Document doc;
  if (parseJson(body, doc) && doc.IsObject()) {
    for (const char* f : {"code", "error"}) {
      auto it = doc.FindMember(f);
      if (it != doc.MemberEnd() && it->value.IsString()) {
        out += (f[0] == 'c' ? " " : ": ");
        out += it->value.GetString();
      }
    }
  } else if (!body.empty()) {
    out += ": " + body.substr(0, 200);
  }
  return out;
}

ServerClient::ServerClient(event_base* base, ServerUrl url, std::string token, std::string consumer)
    : base_(base),
      dns_(evdns_base_new(base,
                          EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE)),
      url_(std::move(url)),
      token_(std::move(token)),
      consumer_(std::move(consumer)),
      release_event_(event_new(base, -1, 0, &ServerClient::onReleased, this)) {
  // Without a resolver libevent resolves names with a blocking getaddrinfo: fine for an IP or
  // localhost, which is what a daemon usually talks to.
  if (dns_ == nullptr) spdlog::debug("no DNS resolver; names are resolved synchronously");
}

ServerClient::~ServerClient() {
  // Freeing a connection frees the requests queued on it without running their callbacks.
  for (auto& [id, call] : calls_) evhttp_connection_free(call->conn);
  for (auto* conn : idle_) evhttp_connection_free(conn);
  for (auto& [conn, reusable] : releasing_) evhttp_connection_free(conn);
  event_free(release_event_);
  if (dns_ != nullptr) evdns_base_free(dns_, 0);
}

evhttp_connection* ServerClient::acquire(int timeout_s) {
  evhttp_connection* conn = nullptr;
  if (!idle_.empty()) {
    conn = idle_.back();
    idle_.pop_back();
  } else {
    conn = evhttp_connection_base_new(base_, dns_, url_.host.c_str(),
                                      static_cast<uint16_t>(url_.port));
    if (conn == nullptr) return nullptr;
    evhttp_connection_set_retries(conn, 0);
  }
  timeval tv{timeout_s, 0};
  evhttp_connection_set_timeout_tv(conn, &tv);
  return conn;
}

ServerClient::CallId ServerClient::post(const std::string& path, std::string body, int timeout_s,
                                        Callback cb, bool consumer) {
  const CallId id = next_id_++;
  evhttp_connection* conn = acquire(timeout_s);
  if (conn == nullptr) {
    deferred_.push_back({id, std::move(cb), HttpReply{0, "", "cannot create a connection"}});
    event_active(release_event_, EV_TIMEOUT, 0);
    return id;
  }
  auto call = std::make_unique<Call>(Call{this, id, conn, std::move(cb)});
  evhttp_request* req = evhttp_request_new(&ServerClient::onResponse, call.get());
  evhttp_request_set_error_cb(
      req, [](evhttp_request_error error, void* arg) { onError(static_cast<int>(error), arg); });
  evkeyvalq* headers = evhttp_request_get_output_headers(req);
  const std::string host = url_.hostHeader();
  const std::string authorization = "Bearer " + token_;
  evhttp_add_header(headers, "Host", host.c_str());
  evhttp_add_header(headers, "Authorization", authorization.c_str());
  evhttp_add_header(headers, "Content-Type", "application/json");
  evhttp_add_header(headers, "Accept", "application/json");
  if (consumer) evhttp_add_header(headers, "X-Courier-Consumer", consumer_.c_str());
  evbuffer_add(evhttp_request_get_output_buffer(req), body.data(), body.size());
  Call* raw = call.get();
  calls_.emplace(id, std::move(call));
  const std::string target = url_.base_path + path;
  posting_ = true;
  const int rc = evhttp_make_request(conn, req, EVHTTP_REQ_POST, target.c_str());
  posting_ = false;
  if (rc != 0) {
    // It could not even start (the callback may or may not have run already).
    auto it = calls_.find(id);
    if (it != calls_.end() && it->second.get() == raw) {
      Callback callback = std::move(it->second->cb);
      calls_.erase(it);
      releaseLater(conn, false);
      deferred_.push_back({id, std::move(callback), HttpReply{0, "", "cannot start the request"}});
      event_active(release_event_, EV_TIMEOUT, 0);
    }
  }
  return id;
}

void ServerClient::cancel(CallId id) {
  auto it = calls_.find(id);
  if (it == calls_.end()) {
    auto d = std::find_if(deferred_.begin(), deferred_.end(),
                          [&](const Deferred& x) { return x.id == id; });
    if (d != deferred_.end()) deferred_.erase(d);
    return;
  }
  // Not called from this connection's own callback (that call is already out of calls_), so the
  // connection can go now; its request goes with it, callback unrun.
  evhttp_connection_free(it->second->conn);
  calls_.erase(it);
}

void ServerClient::onResponse(evhttp_request* req, void* arg) noexcept {
  auto* call = static_cast<Call*>(arg);
  ServerClient* self = call->client;
  HttpReply reply;
  if (req != nullptr && evhttp_request_get_response_code(req) != 0) {
    reply.status = evhttp_request_get_response_code(req);
    evbuffer* in = evhttp_request_get_input_buffer(req);
    const size_t n = evbuffer_get_length(in);
    reply.body.resize(n);
    if (n > 0) evbuffer_copyout(in, reply.body.data(), n);
  } else {
    // errno is the socket's error here (libevent restores it before the callback).
    const int err = errno;
    switch (call->error) {
      case EVREQ_HTTP_TIMEOUT:
        reply.error = "no response: timed out";
        break;
      case EVREQ_HTTP_EOF:
        reply.error = err == ECONNREFUSED || err == ECONNRESET || err == EHOSTUNREACH ||
                              err == ENETUNREACH || err == ETIMEDOUT
                          ? std::string("no response: ") + std::strerror(err)
                          : "no response: the connection was closed";
        break;
      case EVREQ_HTTP_INVALID_HEADER:
      case EVREQ_HTTP_DATA_TOO_LONG:
        reply.error = "invalid HTTP response";
        break;
      default:
        // A failed connect surfaces as ENOTCONN (libevent has already closed the socket).
        reply.error = err == ENOTCONN ? "no response: cannot connect"
                      : err != 0      ? std::string("no response: ") + std::strerror(err)
                                      : "no response";
    }
  }
  auto it = self->calls_.find(call->id);
  if (it == self->calls_.end()) return;  // cancelled (cannot happen: cancel frees the request)
  Callback cb = std::move(call->cb);
  evhttp_connection* conn = call->conn;
  const CallId call_id = call->id;
  self->calls_.erase(it);  // `call` is gone from here on
  self->releaseLater(conn, reply.status != 0);
  if (self->posting_) {
    self->deferred_.push_back({call_id, std::move(cb), std::move(reply)});
    return;  // releaseLater activated the event that delivers it
  }
  try {
    cb(std::move(reply));
  } catch (const std::exception& e) {
    spdlog::error("unexpected exception in an HTTP callback: {}", e.what());
  }
}

void ServerClient::onError(int error, void* arg) noexcept {
  static_cast<Call*>(arg)->error = error;
}

void ServerClient::releaseLater(evhttp_connection* conn, bool reusable) {
  releasing_.emplace_back(conn, reusable);
  event_active(release_event_, EV_TIMEOUT, 0);
}

void ServerClient::onReleased(int, short, void* arg) noexcept {
  auto* self = static_cast<ServerClient*>(arg);
  auto releasing = std::move(self->releasing_);
  self->releasing_.clear();
  for (auto& [conn, reusable] : releasing) {
    if (reusable && self->idle_.size() < kMaxIdleConnections) {
      self->idle_.push_back(conn);
    } else {
      evhttp_connection_free(conn);
    }
  }
  // One at a time from the member: a callback may cancel a later one (cancel() erases it here).
  while (!self->deferred_.empty()) {
    Deferred d = std::move(self->deferred_.front());
    self->deferred_.erase(self->deferred_.begin());
    try {
      d.cb(std::move(d.reply));
    } catch (const std::exception& e) {
      spdlog::error("unexpected exception in an HTTP callback: {}", e.what());
    }
  }
}

}  // namespace courier::daemon
