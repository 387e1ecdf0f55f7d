// SPDX-License-Identifier: Apache-2.0
#include "internal/uri.hpp"

#include <cctype>

namespace cairn::schema::internal {

namespace {

struct uri_parts {
  std::optional<std::string> scheme;
  std::optional<std::string> authority;
  std::string path;
  std::optional<std::string> query;
  std::optional<std::string> fragment;
};

uri_parts parse(std::string_view s) {
  uri_parts p;
  if (auto hash = s.find('#'); hash != std::string_view::npos) {
    p.fragment = std::string(s.substr(hash + 1));
    s = s.substr(0, hash);
  }
  if (auto q = s.find('?'); q != std::string_view::npos) {
    p.query = std::string(s.substr(q + 1));
    s = s.substr(0, q);
  }
  auto colon = s.find(':');
  if (colon != std::string_view::npos && colon > 0
      && std::isalpha(static_cast<unsigned char>(s[0]))) {
    bool ok = true;
    for (std::size_t i = 0; i < colon; ++i) {
      auto c = static_cast<unsigned char>(s[i]);
      if (!std::isalnum(c) && c != '+' && c != '-' && c != '.')
        ok = false;
    }
    if (ok) {
      p.scheme = std::string(s.substr(0, colon));
      s = s.substr(colon + 1);
    }
  }
  if (s.substr(0, 2) == "//") {
    s = s.substr(2);
    auto slash = s.find('/');
    p.authority = std::string(s.substr(0, slash));
    s = slash == std::string_view::npos ? std::string_view{} : s.substr(slash);
  }
  p.path = std::string(s);
  return p;
}

std::string remove_dot_segments(std::string_view in) {
  std::string out;
  while (!in.empty()) {
    if (in.substr(0, 3) == "../") {
      in.remove_prefix(3);
    } else if (in.substr(0, 2) == "./") {
      in.remove_prefix(2);
    } else if (in.substr(0, 3) == "/./") {
      in.remove_prefix(2);
    } else if (in == "/.") {
      in = "/";
    } else if (in.substr(0, 4) == "/../" || in == "/..") {
      in = in.size() == 3 ? std::string_view("/") : in.substr(3);
      auto last = out.rfind('/');
      out.erase(last == std::string::npos ? 0 : last);
    } else if (in == "." || in == "..") {
      in = {};
    } else {
      auto next = in.find('/', in[0] == '/' ? 1 : 0);
      out.append(in.substr(0, next));
      in = next == std::string_view::npos ? std::string_view{} : in.substr(next);
    }
  }
  return out;
}

std::string merge(const uri_parts& base, const std::string& ref_path) {
  if (base.authority && base.path.empty())
    return "/" + ref_path;
  auto last = base.path.rfind('/');
  if (last == std::string::npos)
    return ref_path;
  return base.path.substr(0, last + 1) + ref_path;
}

std::string compose(const uri_parts& p) {
  std::string out;
  if (p.scheme)
    out += *p.scheme + ":";
  if (p.authority)
    out += "//" + *p.authority;
  out += p.path;
  if (p.query)
    out += "?" + *p.query;
  if (p.fragment)
    out += "#" + *p.fragment;
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

} // namespace

bool is_absolute_uri(std::string_view uri) {
  return parse(uri).scheme.has_value();
}

std::string resolve_uri(std::string_view base_text, std::string_view ref_text) {
  auto ref = parse(ref_text);
  auto base = parse(base_text);
  uri_parts t;
  if (ref.scheme) {
    t = ref;
    t.path = remove_dot_segments(ref.path);
  } else {
    if (ref.authority) {
      t.authority = ref.authority;
      t.path = remove_dot_segments(ref.path);
      t.query = ref.query;
    } else {
      if (ref.path.empty()) {
        t.path = base.path;
        t.query = ref.query ? ref.query : base.query;
      } else {
        if (ref.path[0] == '/')
          t.path = remove_dot_segments(ref.path);
        else
          t.path = remove_dot_segments(merge(base, ref.path));
        t.query = ref.query;
      }
      t.authority = base.authority;
    }
    t.scheme = base.scheme;
  }
  t.fragment = ref.fragment;
  return compose(t);
}

std::pair<std::string, std::string> split_fragment(std::string_view uri) {
  auto hash = uri.find('#');
  if (hash == std::string_view::npos)
    return {std::string(uri), {}};
  return {std::string(uri.substr(0, hash)), std::string(uri.substr(hash + 1))};
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size())
      return std::nullopt;
    int hi = hex_value(text[i + 1]);
    int lo = hex_value(text[i + 2]);
    if (hi < 0 || lo < 0)
      return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::string escape_pointer_token(std::string_view token) {
  std::string out;
  for (char c : token) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

std::optional<std::vector<std::string>> parse_pointer(std::string_view pointer) {
  std::vector<std::string> tokens;
  if (pointer.empty())
    return tokens;
  if (pointer[0] != '/')
    return std::nullopt;
  std::size_t pos = 1;
  while (true) {
    auto next = pointer.find('/', pos);
    auto raw =
      pointer.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos);
    std::string token;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '~') {
        token += raw[i];
        continue;
      }
      if (i + 1 >= raw.size() || (raw[i + 1] != '0' && raw[i + 1] != '1'))
        return std::nullopt;
      token += raw[i + 1] == '0' ? '~' : '/';
      ++i;
    }
    tokens.push_back(std::move(token));
    if (next == std::string_view::npos)
      break;
    pos = next + 1;
  }
  return tokens;
}

} // namespace cairn::schema::internal
