#include "webhooks/secrets_key.hpp"

#include "core/durable_file.hpp"
#include "crypto/one_time_seal.hpp"

#include <fstream>
#include <sstream>

namespace provisiond::webhooks {

Result<std::string> load_secrets_key(const std::string& path, bool create) {
    std::ifstream in(path);
    if (in) {
        std::ostringstream text;
        text << in.rdbuf();
        std::string key = text.str();
        while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' ')) {
            key.pop_back();
        }
        if (!crypto::seal_with("", key)) {
            return make_error(ErrorCode::invalid_request,
                              "secrets-key-file " + path +
                                  " does not hold a key (43 base64url characters); restore it "
                                  "from your backup");
        }
        return key;
    }
    if (!create) {
        return make_error(ErrorCode::not_found,
                          "secrets-key-file " + path +
                              " does not exist; it is created by `provisiond webhooks add`");
    }
    std::string key = crypto::new_seal_key();
    if (auto wrote = write_new_file_durably(path, key + "\n", 0600); !wrote) {
        return make_error(ErrorCode::invalid_request,
                          "cannot create secrets-key-file " + path +
                              " (set --secrets-key-file to a writable path)",
                          wrote.error().debug);
    }
    return key;
}

} // namespace provisiond::webhooks
