// SPDX-License-Identifier: Apache-2.0
// The cairn binary: `cairn node` runs a node; the other commands talk to one.
// It is a program built on the node library like any user's (see
// tools/examples/), with cairn's delivery demo added.
#include "cairn/node.hpp"

int main(int argc, char** argv) {
  return cairn::node_main(argc, argv, [](cairn::node_builder& b) { b.demo(); });
}
