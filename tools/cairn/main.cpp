// SPDX-License-Identifier: Apache-2.0
// The cairn binary: `cairn node` runs a node; the other commands talk to one.
#include "commands/commands.hpp"

int main(int argc, char** argv) {
  return cairn::cli::run(argc, argv);
}
