#pragma once

namespace provisiond::cli {

/// Parses argv and runs the chosen command; returns the process exit code.
int run(int argc, char** argv);

} // namespace provisiond::cli
