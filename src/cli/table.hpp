#pragma once
// How operator commands print what they list or show: aligned columns (or `key: value` lines)
// for a person, one line of JSON (--json) for a program. Times are ISO-8601 UTC in both forms.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace provisiond::cli {

/// The help of every listing's and every show's --json flag.
inline constexpr const char* json_flag_help =
    "Print JSON instead of text: one line, times in ISO-8601 UTC, for scripts";

/// Rows under a header, each column padded to its widest cell, two spaces apart.
class Table {
public:
    explicit Table(std::vector<std::string> headers);
    /// Adds a row; a missing cell prints as empty, control characters as spaces.
    void add_row(std::vector<std::string> cells);
    bool empty() const { return rows_.empty(); }
    /// Prints the header and the rows, `indent` spaces in.
    void print(std::ostream& out, std::size_t indent = 0) const;

private:
    std::vector<std::string> headers_;
    std::vector<std::vector<std::string>> rows_;
};

/// A time for a table cell: ISO-8601 UTC, or "-" when there is none.
std::string time_cell(std::optional<std::int64_t> unix_seconds);

/// A time for JSON: ISO-8601 UTC, or null when there is none.
boost::json::value time_json(std::optional<std::int64_t> unix_seconds);

/// A count with its noun, singular or plural: "1 family", "2 families".
std::string count_of(std::int64_t n, const std::string& singular, const std::string& plural);

/// Prints one record (what `show` prints without --json): `key: value` lines with the values
/// aligned; a nested object's fields as `key.field`; an array of values joined with ", "; an
/// array of objects as a table under its key. Booleans read yes/no, null reads "-".
void print_record(std::ostream& out, const boost::json::object& record);

/// Prints `value` as one line of JSON (what --json prints).
void print_json(std::ostream& out, const boost::json::value& value);

} // namespace provisiond::cli
