#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# scripts/check-coroutines.py: refuses each way a lambda with captures can sit inside a co_await
# expression (also after a digit separator), and passes the code that only looks like it
# (comments, strings, subscripts, captureless lambdas, the lambda made in a plain function).
set -euo pipefail
check=$(cd "$(dirname "$0")/../.." && pwd)/scripts/check-coroutines.py
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail=0
expect() { # expect CODE NAME: the script's exit code on $dir/NAME.cpp
  local got=0
  python3 "$check" "$dir/$2.cpp" > "$dir/$2.out" || got=$?
  if [ "$got" != "$1" ]; then
    echo "FAIL: $2: exit $got, expected $1"; cat "$dir/$2.out"; fail=1
  else
    echo "ok: $2 (exit $got)"
  fi
}

cat > "$dir/initiation.cpp" <<'CPP'
asio::awaitable<void> session() {
  res = co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(http_response)>(
    [this, &req](auto completion) { handler(req, std::move(completion)); },
    asio::use_awaitable);
}
CPP
expect 1 initiation

cat > "$dir/init_capture.cpp" <<'CPP'
asio::awaitable<void> f(std::shared_ptr<int> p) {
  co_await post_and_wait([p = std::move(p)]() mutable { ++*p; });
}
CPP
expect 1 init_capture

cat > "$dir/two.cpp" <<'CPP'
asio::awaitable<void> f() {
  auto a = co_await g([&] { return 1; });
  auto b = co_await h(x, [=]() { return 2; });
}
CPP
expect 1 two
grep -c "inside a co_await" "$dir/two.out" | grep -qx 2 || { echo "FAIL: two: not both reported"; fail=1; }

cat > "$dir/separator.cpp" <<'CPP'
asio::awaitable<void> f(std::shared_ptr<int> p) {
  std::chrono::milliseconds timeout{30'000};
  co_await post_and_wait([p]() { ++*p; });
  char c = '[';
}
CPP
expect 1 separator

cat > "$dir/clean.cpp" <<'CPP'
// co_await g([this](auto c) {}) in a comment is not code
/* nor co_await g([p](auto c) {}) here */
asio::awaitable<answered> answer(const request& req) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(answered)>(
    [this, &req](auto completion) { handler(req, std::move(completion)); }, asio::use_awaitable);
}
asio::awaitable<void> session() {
  auto text = "co_await g([x](){})";
  auto got = co_await answer(req);
  auto [ec, n] = co_await read(stream, buffers[i], use_tuple);
  co_await f([](int v) { return v; });
}
CPP
expect 0 clean

exit $fail
