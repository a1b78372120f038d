#include "support/http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "courier/util/json.h"

namespace courier::testing {
namespace {

// Bounds a single header line: a server that never sends CRLF cannot make us buffer forever.
constexpr size_t kMaxLineBytes = 1 << 20;

long long nowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool containsIgnoreCase(std::string_view haystack, std::string_view needle) {
  for (size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    if (equalsIgnoreCase(haystack.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

bool hasHeader(const Headers& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (equalsIgnoreCase(n, name)) return true;
  }
  return false;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

timeval toTimeval(int ms) {
  timeval tv{};
  tv.tv_sec = ms / 1000;
  tv.tv_usec = (ms % 1000) * 1000;
  return tv;
}

}  // namespace

std::optional<std::string> HttpResponse::header(const std::string& name) const {
  for (const auto& [n, v] : headers) {
    if (equalsIgnoreCase(n, name)) return v;
  }
  return std::nullopt;
}

rapidjson::Document HttpResponse::json() const {
  rapidjson::Document doc;
  auto parsed = parseJson(body, doc);
  if (!parsed.ok()) {
    ADD_FAILURE() << "response body is not JSON (" << parsed.error() << "), status " << status
                  << ": " << body;
    doc.SetNull();
  }
  return doc;
}

std::pair<std::string, std::string> bearer(const std::string& token) {
  return {"Authorization", "Bearer " + token};
}

HttpClient::HttpClient(int port, std::string host) : host_(std::move(host)), port_(port) {}

HttpClient::~HttpClient() { close(); }

void HttpClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
}

void HttpClient::setTimeoutMs(int ms) {
  timeout_ms_ = ms;
  if (fd_ >= 0) {
    const timeval tv = toTimeval(ms);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
}

bool HttpClient::connect(std::string* error) {
  close();
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (::inet_pton(AF_INET, host_.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port_));
    addr_len = sizeof *v4;
  } else if (::inet_pton(AF_INET6, host_.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port_));
    addr_len = sizeof *v6;
  } else {
    *error = "not an IP address: " + host_;
    return false;
  }
  const int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  // SO_SNDTIMEO bounds both connect() and blocking sends (a server that stops reading a big body).
  const timeval tv = toTimeval(timeout_ms_);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int rc;
  do {
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), addr_len);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    *error = "connect to " + host_ + ":" + std::to_string(port_) + ": " + std::strerror(errno);
    ::close(fd);
    return false;
  }
  fd_ = fd;
  return true;
}

bool HttpClient::peerClosed() {
  if (fd_ < 0) return true;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLHUP | POLLERR)) return true;
  char c;
  const ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

bool HttpClient::writeAll(const std::string& bytes, std::string* error) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    // MSG_NOSIGNAL: a server that closed the connection must not kill the test with SIGPIPE.
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = (errno == EAGAIN || errno == EWOULDBLOCK)
                   ? "timeout after " + std::to_string(timeout_ms_) + " ms sending"
                   : std::string("send: ") + std::strerror(errno);
      return false;
    }
    sent += static_cast<size_t>(n);
  }
  return true;
}

bool HttpClient::sendRaw(const std::string& bytes) {
  std::string error;
  if (fd_ < 0 && !connect(&error)) return false;
  return writeAll(bytes, &error);
}

HttpClient::Fill HttpClient::fill(long long deadline_ms, std::string* error) {
  if (fd_ < 0) {
    *error = "not connected";
    return Fill::kError;
  }
  while (true) {
    const long long left = deadline_ms - nowMs();
    if (left <= 0) {
      *error = "timeout after " + std::to_string(timeout_ms_) + " ms waiting for the response";
      return Fill::kTimeout;
    }
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1 << 30)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) continue;  // Re-checks the deadline.
    char chunk[64 * 1024];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n > 0) {
      buffer_.append(chunk, static_cast<size_t>(n));
      return Fill::kData;
    }
    if (n == 0) {
      *error = "connection closed by the server";
      return Fill::kClosed;
    }
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
    *error = std::string("recv: ") + std::strerror(errno);
    return errno == ECONNRESET ? Fill::kClosed : Fill::kError;
  }
}

bool HttpClient::readLine(std::string* line, long long deadline_ms, std::string* error) {
  size_t scanned = 0;
  while (true) {
    const size_t eol = buffer_.find('\n', scanned);
    if (eol != std::string::npos) {
      const size_t end = (eol > 0 && buffer_[eol - 1] == '\r') ? eol - 1 : eol;
      line->assign(buffer_, 0, end);
      buffer_.erase(0, eol + 1);
      return true;
    }
    if (buffer_.size() > kMaxLineBytes) {
      *error = "line longer than 1 MiB";
      return false;
    }
    scanned = buffer_.size();
    if (fill(deadline_ms, error) != Fill::kData) return false;
  }
}

bool HttpClient::readExactly(size_t n, std::string* out, long long deadline_ms,
                             std::string* error) {
  while (buffer_.size() < n) {
    if (fill(deadline_ms, error) != Fill::kData) {
      *error += " (" + std::to_string(buffer_.size()) + " of " + std::to_string(n) +
                " body bytes received)";
      return false;
    }
  }
  out->append(buffer_, 0, n);
  buffer_.erase(0, n);
  return true;
}

bool HttpClient::readUntilClose(std::string* out, long long deadline_ms, std::string* error) {
  while (true) {
    out->append(buffer_);
    buffer_.clear();
    switch (fill(deadline_ms, error)) {
      case Fill::kData:
        break;
      case Fill::kClosed:
        return true;
      default:
        return false;
    }
  }
}

HttpResponse HttpClient::failure(const std::string& what) {
  // After a failure the connection is in an unknown state (half a response may be pending).
  close();
  HttpResponse response;
  response.body = what;
  return response;
}

HttpResponse HttpClient::readResponse(bool head_request) {
  closed_early_ = false;
  const long long deadline = nowMs() + timeout_ms_;
  std::string error;
  if (buffer_.empty()) {
    const Fill first = fill(deadline, &error);
    if (first != Fill::kData) {
      closed_early_ = first == Fill::kClosed;
      return failure(error);
    }
  }

  HttpResponse response;
  bool keep_alive = true;
  while (true) {
    std::string line;
    if (!readLine(&line, deadline, &error)) return failure("reading status line: " + error);
    // "HTTP/1.1 200 OK"
    if (line.rfind("HTTP/1.", 0) != 0 || line.size() < 12 || line[8] != ' ') {
      return failure("bad status line: " + line);
    }
    const bool http10 = line[7] == '0';
    response.status = std::atoi(line.c_str() + 9);
    response.headers.clear();
    while (true) {
      if (!readLine(&line, deadline, &error)) return failure("reading headers: " + error);
      if (line.empty()) break;
      const size_t colon = line.find(':');
      if (colon == std::string::npos) return failure("bad header line: " + line);
      response.headers.emplace_back(line.substr(0, colon), trim(line.substr(colon + 1)));
    }
    const auto connection = response.header("Connection");
    keep_alive = connection ? !containsIgnoreCase(*connection, "close") : !http10;
    if (http10 && connection && containsIgnoreCase(*connection, "keep-alive")) keep_alive = true;
    // Interim responses (100 Continue) precede the real one.
    if (response.status >= 100 && response.status < 200 && response.status != 101) continue;
    break;
  }

  const auto transfer_encoding = response.header("Transfer-Encoding");
  const auto content_length = response.header("Content-Length");
  if (head_request || response.status == 204 || response.status == 304) {
    // No body.
  } else if (transfer_encoding && containsIgnoreCase(*transfer_encoding, "chunked")) {
    while (true) {
      std::string size_line;
      if (!readLine(&size_line, deadline, &error)) return failure("reading chunk size: " + error);
      char* end = nullptr;
      const unsigned long long size = std::strtoull(size_line.c_str(), &end, 16);
      if (end == size_line.c_str()) return failure("bad chunk size line: " + size_line);
      if (size == 0) {
        // Trailers, up to the empty line.
        do {
          if (!readLine(&size_line, deadline, &error)) return failure("reading trailer: " + error);
        } while (!size_line.empty());
        break;
      }
      if (!readExactly(size, &response.body, deadline, &error)) {
        return failure("reading chunk: " + error);
      }
      std::string crlf;
      if (!readLine(&crlf, deadline, &error) || !crlf.empty()) {
        return failure("missing CRLF after chunk: " + error);
      }
    }
  } else if (content_length) {
    char* end = nullptr;
    const unsigned long long length = std::strtoull(content_length->c_str(), &end, 10);
    if (end == content_length->c_str()) return failure("bad Content-Length: " + *content_length);
    if (!readExactly(length, &response.body, deadline, &error)) {
      return failure("reading body: " + error);
    }
  } else {
    if (!readUntilClose(&response.body, deadline, &error)) {
      return failure("reading body: " + error);
    }
    keep_alive = false;
  }
  if (!keep_alive) close();
  return response;
}

HttpResponse HttpClient::request(const std::string& method, const std::string& target,
                                 const std::string& body, Headers headers) {
  std::string raw = method + " " + target + " HTTP/1.1\r\n";
  if (!hasHeader(headers, "Host")) raw += "Host: " + host_ + ":" + std::to_string(port_) + "\r\n";
  const bool usually_has_body = method == "POST" || method == "PUT" || method == "PATCH";
  if (!hasHeader(headers, "Content-Length") && !hasHeader(headers, "Transfer-Encoding") &&
      (!body.empty() || usually_has_body)) {
    raw += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  for (const auto& [name, value] : headers) raw += name + ": " + value + "\r\n";
  raw += "\r\n";
  raw += body;

  // A kept-alive connection may have been closed by the server while idle; the check below
  // catches most of that, and the retry the race where it closes while we send.
  if (fd_ >= 0 && peerClosed()) close();
  for (int attempt = 0;; ++attempt) {
    const bool reused = fd_ >= 0;
    std::string error;
    if (!reused && !connect(&error)) return failure(error);
    if (!writeAll(raw, &error)) {
      if (reused && attempt == 0) {
        close();
        continue;
      }
      return failure(error);
    }
    HttpResponse response = readResponse(method == "HEAD");
    if (response.status == 0 && closed_early_ && reused && attempt == 0) continue;
    return response;
  }
}

HttpResponse HttpClient::get(const std::string& target, Headers headers) {
  return request("GET", target, "", std::move(headers));
}

HttpResponse HttpClient::post(const std::string& target, const std::string& body, Headers headers) {
  return request("POST", target, body, std::move(headers));
}

HttpResponse HttpClient::del(const std::string& target, Headers headers) {
  return request("DELETE", target, "", std::move(headers));
}

}  // namespace courier::testing
