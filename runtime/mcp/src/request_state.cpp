// SPDX-License-Identifier: Apache-2.0
// The signed requestState (2026-07-28 multi-round requests): base64 of the
// state and an HMAC over it, so a client can neither forge nor edit it.
#include "internal/request_state.hpp"

#include <cstring>

#include <boost/uuid/detail/sha1.hpp>

#include "cairn/text_codec.hpp"
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
  if (!body
      || !cairn::constant_time_equal(hmac_hex(opts.state_secret, *body), sealed.substr(dot + 1)))
    return std::nullopt;
  boost::system::error_code ec;
  auto v = json::parse(*body, ec);
  if (ec || !v.is_object())
    return std::nullopt;
  return v.as_object();
}

} // namespace cairn::mcp
