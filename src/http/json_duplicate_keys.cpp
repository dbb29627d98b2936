#include "http/json_duplicate_keys.hpp"

#include <boost/json/basic_parser_impl.hpp>

#include <set>
#include <vector>

namespace provisiond::http {
namespace {

using boost::json::string_view;
using boost::system::error_code;

/// A SAX handler that builds nothing: it keeps the keys seen in each open object and stops
/// at the first repeat.
struct DuplicateKeyHandler {
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);

    std::vector<std::set<std::string>> open_objects;
    std::string key;
    std::optional<std::string> duplicate;

    bool on_document_begin(error_code&) { return true; }
    bool on_document_end(error_code&) { return true; }
    bool on_object_begin(error_code&) {
        open_objects.emplace_back();
        return true;
    }
    bool on_object_end(std::size_t, error_code&) {
        open_objects.pop_back();
        return true;
    }
    bool on_array_begin(error_code&) { return true; }
    bool on_array_end(std::size_t, error_code&) { return true; }
    bool on_key_part(string_view part, std::size_t, error_code&) {
        key.append(part.data(), part.size());
        return true;
    }
    bool on_key(string_view part, std::size_t, error_code& ec) {
        key.append(part.data(), part.size());
        bool fresh = open_objects.back().insert(key).second;
        if (!fresh) {
            duplicate = key;
            ec = boost::json::error::syntax; // stop parsing: the answer is known
            return false;
        }
        key.clear();
        return true;
    }
    bool on_string_part(string_view, std::size_t, error_code&) { return true; }
    bool on_string(string_view, std::size_t, error_code&) { return true; }
    bool on_number_part(string_view, error_code&) { return true; }
    bool on_int64(std::int64_t, string_view, error_code&) { return true; }
    bool on_uint64(std::uint64_t, string_view, error_code&) { return true; }
    bool on_double(double, string_view, error_code&) { return true; }
    bool on_bool(bool, error_code&) { return true; }
    bool on_null(error_code&) { return true; }
    bool on_comment_part(string_view, error_code&) { return true; }
    bool on_comment(string_view, error_code&) { return true; }
};

} // namespace

std::optional<std::string> find_duplicate_key(std::string_view json, std::size_t max_depth) {
    boost::json::parse_options options;
    options.max_depth = max_depth;
    boost::json::basic_parser<DuplicateKeyHandler> parser(options);
    error_code ec;
    parser.write_some(false, json.data(), json.size(), ec);
    return parser.handler().duplicate;
}

} // namespace provisiond::http
