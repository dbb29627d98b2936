// The file outbox (outbox/file_sender.cpp): one whole .eml per message, nothing half-written left
// behind, and two deliveries of the same message (two processes after a lapsed claim) never
// writing into one file.
#include "outbox/file_sender.hpp"
#include "outbox/message_format.hpp"
#include "test_files.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

namespace provisiond {
namespace {

namespace fs = std::filesystem;

outbox::Email message() {
    outbox::Email email;
    email.id = "0b7c6a1e-3f0e-4c55-9a8b-2a4b8f1f0c11";
    email.kind = "welcome";
    email.recipient = "ada@example.com";
    email.subject = "Welcome";
    email.body_text = std::string(20000, 'x'); // more than one write, were writes torn
    email.created_at = 1764547200;
    return email;
}

class FileSenderTest : public ::testing::Test {
protected:
    std::vector<std::string> names() const {
        std::vector<std::string> out;
        for (const auto& entry : fs::directory_iterator(dir)) {
            out.push_back(entry.path().filename().string());
        }
        return out;
    }
    std::string read(const std::string& name) const { return test_files::read_file(dir / name); }

    // Not created: the sender makes its directory itself.
    test_files::TempDirectory temp{"file-sender", test_files::TempDirectory::Start::absent};
    const fs::path& dir = temp.path();
    const std::string from = "provisiond <no-reply@example.com>";
};

TEST_F(FileSenderTest, WritesOneWholeMessageAndNoTemporaryFile) {
    outbox::FileSender sender(dir.string(), from);
    ASSERT_TRUE(sender.deliver(message()));
    std::string name = "1764547200-0b7c6a1e-3f0e-4c55-9a8b-2a4b8f1f0c11.eml";
    EXPECT_EQ(names(), std::vector<std::string>{name});
    EXPECT_EQ(read(name), outbox::format_message(from, message()));
}

TEST_F(FileSenderTest, TheSameMessageDeliveredAtOnceLeavesOneWholeFile) {
    std::vector<std::thread> senders;
    for (int i = 0; i < 8; ++i) {
        senders.emplace_back([&] {
            outbox::FileSender sender(dir.string(), from);
            for (int k = 0; k < 20; ++k) {
                EXPECT_TRUE(sender.deliver(message()));
            }
        });
    }
    for (auto& t : senders) {
        t.join();
    }
    std::string name = "1764547200-0b7c6a1e-3f0e-4c55-9a8b-2a4b8f1f0c11.eml";
    EXPECT_EQ(names(), std::vector<std::string>{name});
    EXPECT_EQ(read(name), outbox::format_message(from, message()));
}

TEST_F(FileSenderTest, AnUnwritableDirectoryIsUnavailableAndLeavesNothing) {
    fs::create_directories(dir);
    std::ofstream(dir / "file") << "not a directory";
    outbox::FileSender sender((dir / "file").string(), from);
    auto delivered = sender.deliver(message());
    ASSERT_FALSE(delivered);
    EXPECT_EQ(delivered.error().code, ErrorCode::unavailable);
    EXPECT_EQ(names(), std::vector<std::string>{"file"});
}

} // namespace
} // namespace provisiond
