// SPDX-License-Identifier: Apache-2.0
// The signed requestState (2026-07-28 multi-round requests): base64 of the
// state and an HMAC over it, so a client can neither forge nor edit it.
#include "internal/request_state.hpp"

#include <cstring>

#include <boost/uuid/detail/sha1.hpp>

#include "internal/server_impl.hpp"

namespace cairn::mcp {

std::string hmac_hex(std::string_view key, std::string_view msg) {
  using boost::uuids::detail::sha1;
  auto digest = [](std::string_view a, std::string_view b) {
    sha1 h;
    h.process_bytes(a.data(), a.size());
    h.process_bytes(b.data(), b.size());
    sha1::digest_type d;
    h.get_digest(d);
    std::string out;
    for (unsigned w : d)
      for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back(static_cast<char>((w >> shift) & 0xff));
    return out;
  };
  std::string k{key};
  if (k.size() > 64)
    k = digest(k, {});
  k.resize(64, '\0');
  std::string ipad = k, opad = k;
  for (auto& c : ipad)
    c = static_cast<char>(c ^ 0x36);
  for (auto& c : opad)
    c = static_cast<char>(c ^ 0x5c);
  auto mac = digest(opad, digest(ipad, msg));
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : mac) {
    out.push_back(hex[c >> 4]);
    out.push_back(hex[c & 15]);
  }
  return out;
}

namespace {

constexpr const char* base64_alphabet =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

} // namespace

/// Base64 (RFC 4648, padded).
std::string base64_encode(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t n = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size())
      n |= static_cast<uint8_t>(in[i + 1]) << 8;
    if (i + 2 < in.size())
      n |= static_cast<uint8_t>(in[i + 2]);
    out.push_back(base64_alphabet[(n >> 18) & 63]);
    out.push_back(base64_alphabet[(n >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? base64_alphabet[(n >> 6) & 63] : '=');
    out.push_back(i + 2 < in.size() ? base64_alphabet[n & 63] : '=');
  }
  return out;
}

/// Strict base64 (RFC 4648, padded); nullopt if malformed.
std::optional<std::string> base64_decode(std::string_view in) {
  if (in.size() % 4 != 0)
    return std::nullopt;
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    int v;
    if (c == '=') {
      if (i + 2 < in.size())
        return std::nullopt;
      ++pad;
      continue;
    }
    if (pad)
      return std::nullopt;
    auto at = c ? std::strchr(base64_alphabet, c) : nullptr;
    if (!at)
      return std::nullopt;
    v = static_cast<int>(at - base64_alphabet);
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

std::string server::impl::seal(const json::object& state) const {
  // requestState = base64(json) "." HMAC: a client that edits either half
  // is refused.
  auto body = json::serialize(state);
  return base64_encode(body) + "." + hmac_hex(opts.state_secret, body);
}

std::optional<json::object> server::impl::unseal(std::string_view sealed) const {
  auto dot = sealed.rfind('.');
  if (dot == std::string_view::npos)
    return std::nullopt;
  auto body = base64_decode(sealed.substr(0, dot));
  if (!body || hmac_hex(opts.state_secret, *body) != sealed.substr(dot + 1))
    return std::nullopt;
  boost::system::error_code ec;
  auto v = json::parse(*body, ec);
  if (ec || !v.is_object())
    return std::nullopt;
  return v.as_object();
}

} // namespace cairn::mcp
