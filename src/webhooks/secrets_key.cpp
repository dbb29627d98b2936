#include "webhooks/secrets_key.hpp"

#include "crypto/one_time_seal.hpp"

#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

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
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        return make_error(ErrorCode::invalid_request,
                          "cannot create secrets-key-file " + path +
                              " (set --secrets-key-file to a writable path)");
    }
    std::string line = key + "\n";
    bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    bool synced = ::fsync(fd) == 0;
    ::close(fd);
    if (!written || !synced) {
        ::unlink(path.c_str());
        return make_error(ErrorCode::invalid_request, "cannot write secrets-key-file " + path);
    }
    return key;
}

} // namespace provisiond::webhooks
