// core/durable_file: a new file holds exactly the bytes, with the permission bits asked for;
// an existing file is never written into; a failure leaves nothing behind and says why.
#include "core/durable_file.hpp"
#include "test_files.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

namespace provisiond {
namespace {

namespace fs = std::filesystem;

class DurableFileTest : public ::testing::Test {
protected:
    test_files::TempDirectory temp{"durable-file"};
    const fs::path& dir = temp.path();
};

TEST_F(DurableFileTest, WritesEveryByteWithTheModeAskedFor) {
    auto path = dir / "key";
    std::string bytes(100000, 'k'); // more than one write, were writes torn
    ASSERT_TRUE(write_new_file_durably(path.string(), bytes, 0600));
    EXPECT_EQ(test_files::read_file(path), bytes);
    struct stat info {};
    ASSERT_EQ(::stat(path.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 0777, 0600u & ~static_cast<unsigned>(::umask(::umask(0))));
}

TEST_F(DurableFileTest, NeverWritesIntoAFileThatExists) {
    auto path = dir / "taken";
    std::ofstream(path) << "first";
    auto wrote = write_new_file_durably(path.string(), "second", 0644);
    ASSERT_FALSE(wrote);
    EXPECT_EQ(wrote.error().code, ErrorCode::unavailable);
    EXPECT_NE(wrote.error().debug.find("create " + path.string() + ": File exists"),
              std::string::npos)
        << wrote.error().debug;
    EXPECT_EQ(test_files::read_file(path), "first"); // and left it alone
}

TEST_F(DurableFileTest, SaysWhyWhenTheDirectoryIsMissing) {
    auto path = dir / "missing" / "file";
    auto wrote = write_new_file_durably(path.string(), "x", 0644);
    ASSERT_FALSE(wrote);
    EXPECT_NE(wrote.error().debug.find("No such file or directory"), std::string::npos)
        << wrote.error().debug;
    EXPECT_FALSE(fs::exists(path));
}

TEST_F(DurableFileTest, NeverFollowsASymlinkPlantedAtThePath) {
    // O_EXCL refuses any existing name, a symlink too (even one pointing nowhere), so a key or
    // a message is never written through a link someone planted where the file would go.
    auto target = dir / "elsewhere";
    auto link = dir / "key";
    fs::create_symlink(target, link);
    auto wrote = write_new_file_durably(link.string(), "secret", 0600);
    ASSERT_FALSE(wrote);
    EXPECT_FALSE(fs::exists(target));
    EXPECT_TRUE(fs::is_symlink(link)); // and left it alone (the unlink is only for our own file)
}

} // namespace
} // namespace provisiond
