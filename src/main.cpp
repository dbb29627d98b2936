// provisiond: see README.md. Parsing and dispatch live in cli/; nothing else happens here.
#include "cli/cli.hpp"

int main(int argc, char** argv) { return provisiond::cli::run(argc, argv); }
