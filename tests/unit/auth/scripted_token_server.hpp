#pragma once

// A token server on 127.0.0.1 for unit tests, in a thread of the test
// process. It responds to every request with 200 and the JSON body that a
// callback returns, and records each request, so a test can count the token
// requests that the client made.

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace multipush::test {

struct RecordedRequest {
  std::string method;
  std::string target;  // path and query
  std::string body;
};

class ScriptedTokenServer {
 public:
  // `respond` receives the request and its 1-based number and returns the
  // response body.
  using Responder = std::function<std::string(const RecordedRequest& request, int number)>;

  explicit ScriptedTokenServer(Responder respond) : respond_(std::move(respond)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof(address);
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(listener_, 16) != 0 || ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      if (listener_ >= 0) ::close(listener_);
      throw std::runtime_error("ScriptedTokenServer: cannot listen on 127.0.0.1");
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }

  ~ScriptedTokenServer() {
    stopping_ = true;
    thread_.join();
    ::close(listener_);
  }
  ScriptedTokenServer(const ScriptedTokenServer&) = delete;
  ScriptedTokenServer& operator=(const ScriptedTokenServer&) = delete;

  // "http://127.0.0.1:PORT/token"
  std::string realm() const { return "http://127.0.0.1:" + std::to_string(port_) + "/token"; }

  std::vector<RecordedRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void serve() {
    while (!stopping_) {
      pollfd ready{listener_, POLLIN, 0};
      // The timeout bounds how long the destructor waits for this loop.
      if (::poll(&ready, 1, 50) <= 0) continue;
      int connection = ::accept(listener_, nullptr, nullptr);
      if (connection < 0) continue;
      answer(connection);
      ::close(connection);
    }
  }

  // Reads one request (headers, then a Content-Length body) and responds
  // with `Connection: close`.
  void answer(int connection) {
    std::string data;
    char buffer[4096];
    size_t header_end = std::string::npos;
    size_t body_size = 0;
    while (true) {
      if (header_end == std::string::npos) {
        header_end = data.find("\r\n\r\n");
        if (header_end != std::string::npos) body_size = content_length(data.substr(0, header_end));
      }
      if (header_end != std::string::npos && data.size() >= header_end + 4 + body_size) break;
      ssize_t received = ::recv(connection, buffer, sizeof(buffer), 0);
      if (received <= 0) return;
      data.append(buffer, static_cast<size_t>(received));
    }

    RecordedRequest request;
    size_t space = data.find(' ');
    size_t second_space = data.find(' ', space + 1);
    request.method = data.substr(0, space);
    request.target = data.substr(space + 1, second_space - space - 1);
    request.body = data.substr(header_end + 4, body_size);
    int number;
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(request);
      number = static_cast<int>(requests_.size());
    }
    std::string body = respond_(request, number);
    std::string response = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    size_t sent = 0;
    while (sent < response.size()) {
      ssize_t written = ::send(connection, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
      if (written <= 0) return;
      sent += static_cast<size_t>(written);
    }
  }

  static size_t content_length(const std::string& headers) {
    std::string lower;
    for (char c : headers) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    size_t at = lower.find("\r\ncontent-length:");
    if (at == std::string::npos) return 0;
    return std::strtoul(lower.c_str() + at + 17, nullptr, 10);
  }

  Responder respond_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<RecordedRequest> requests_;
};

}  // namespace multipush::test
