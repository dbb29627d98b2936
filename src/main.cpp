// provisiond: see README.md. Parsing and dispatch live in cli/; nothing else happens here.
#include "cli/cli.hpp"

#include <curl/curl.h>

int main(int argc, char** argv) {
    // libcurl's process-wide setup must run before any thread exists (metadata-document fetches).
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int code = provisiond::cli::run(argc, argv);
    curl_global_cleanup();
    return code;
}
