// Files for unit tests that use the real file system: a directory of the test's own, and reading
// a file back whole.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <unistd.h>

namespace provisiond::test_files {

/// /tmp/provisiond-<purpose>-<pid>-<test name>: what an earlier, interrupted run left there is
/// removed first, and the whole directory when the test ends. `Start::absent` leaves it to the
/// code under test to create (a test of exactly that).
class TempDirectory {
public:
    enum class Start { created, absent };

    explicit TempDirectory(std::string_view purpose, Start start = Start::created)
        : path_(std::filesystem::temp_directory_path() /
                ("provisiond-" + std::string(purpose) + "-" + std::to_string(::getpid()) + "-" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
        std::filesystem::remove_all(path_);
        if (start == Start::created)
            std::filesystem::create_directories(path_);
    }
    ~TempDirectory() {
        std::error_code ignored; // a destructor does not throw; a left-over is removed next run
        std::filesystem::remove_all(path_, ignored);
    }
    TempDirectory(const TempDirectory&) = delete;
    TempDirectory& operator=(const TempDirectory&) = delete;

    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

/// Every byte of the file; empty when it cannot be read.
inline std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

} // namespace provisiond::test_files
