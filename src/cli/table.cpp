#include "cli/table.hpp"

#include "core/iso8601.hpp"
#include "core/strings.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <variant>

namespace provisiond::cli {
namespace {

/// Columns are counted in code points, so a name like "Zoë" does not push its row out of line.
std::size_t display_width(const std::string& text) {
    return is_valid_utf8(text) ? decode_utf8(text).size() : text.size();
}

/// A cell may hold a partner's or a person's text: a control character in it (a newline, an
/// escape sequence) must not break the row or drive the operator's terminal.
std::string printable(std::string text) {
    for (auto& ch : text) {
        auto byte = static_cast<unsigned char>(ch);
        if (byte < 0x20 || byte == 0x7f) {
            ch = ' ';
        }
    }
    return text;
}

void pad_to(std::ostream& out, const std::string& text, std::size_t width) {
    out << text;
    for (std::size_t w = display_width(text); w < width; ++w) {
        out << ' ';
    }
}

std::string upper(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return text;
}

/// A JSON value as a person reads it in a record or a table cell.
std::string plain(const boost::json::value& v) {
    switch (v.kind()) {
    case boost::json::kind::null:
        return "-";
    case boost::json::kind::bool_:
        return v.get_bool() ? "yes" : "no";
    case boost::json::kind::string:
        return std::string(v.get_string());
    case boost::json::kind::array: {
        std::vector<std::string> parts;
        for (const auto& item : v.get_array()) {
            parts.push_back(item.is_structured() ? boost::json::serialize(item) : plain(item));
        }
        return parts.empty() ? "-" : join(parts, ", ");
    }
    default:
        return boost::json::serialize(v);
    }
}

bool is_array_of_objects(const boost::json::value& v) {
    return v.is_array() && !v.get_array().empty() &&
           std::all_of(v.get_array().begin(), v.get_array().end(),
                       [](const boost::json::value& item) { return item.is_object(); });
}

/// An array of objects as a table: the first object's keys are the columns.
Table table_of(const boost::json::array& items) {
    std::vector<std::string> keys;
    for (const auto& [key, _] : items.front().get_object()) {
        keys.emplace_back(key);
    }
    std::vector<std::string> headers;
    for (const auto& key : keys) {
        headers.push_back(upper(key));
    }
    Table table(headers);
    for (const auto& item : items) {
        std::vector<std::string> cells;
        for (const auto& key : keys) {
            const auto* field = item.get_object().if_contains(key);
            cells.push_back(field ? plain(*field) : "");
        }
        table.add_row(std::move(cells));
    }
    return table;
}

using RecordLine = std::pair<std::string, std::variant<std::string, Table>>;

void flatten(const boost::json::object& record, const std::string& prefix,
             std::vector<RecordLine>& lines) {
    for (const auto& [key, value] : record) {
        std::string name = prefix + std::string(key);
        if (value.is_object() && !value.get_object().empty()) {
            flatten(value.get_object(), name + ".", lines);
        } else if (is_array_of_objects(value)) {
            lines.emplace_back(name, table_of(value.get_array()));
        } else {
            lines.emplace_back(name, plain(value));
        }
    }
}

} // namespace

Table::Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void Table::add_row(std::vector<std::string> cells) {
    cells.resize(headers_.size());
    for (auto& cell : cells) {
        cell = printable(std::move(cell));
    }
    rows_.push_back(std::move(cells));
}

void Table::print(std::ostream& out, std::size_t indent) const {
    std::vector<std::size_t> widths;
    for (const auto& header : headers_) {
        widths.push_back(display_width(header));
    }
    for (const auto& row : rows_) {
        for (std::size_t i = 0; i < row.size(); ++i) {
            widths[i] = std::max(widths[i], display_width(row[i]));
        }
    }
    auto line = [&](const std::vector<std::string>& cells) {
        out << std::string(indent, ' ');
        for (std::size_t i = 0; i < cells.size(); ++i) {
            if (i + 1 == cells.size()) {
                out << cells[i]; // no trailing spaces
            } else {
                pad_to(out, cells[i], widths[i] + 2);
            }
        }
        out << "\n";
    };
    line(headers_);
    for (const auto& row : rows_) {
        line(row);
    }
}

std::string time_cell(std::optional<std::int64_t> unix_seconds) {
    return unix_seconds ? format_iso8601(*unix_seconds) : "-";
}

boost::json::value time_json(std::optional<std::int64_t> unix_seconds) {
    return unix_seconds ? boost::json::value(format_iso8601(*unix_seconds)) : nullptr;
}

std::string count_of(std::int64_t n, const std::string& singular, const std::string& plural) {
    return std::to_string(n) + " " + (n == 1 ? singular : plural);
}

void print_record(std::ostream& out, const boost::json::object& record) {
    std::vector<RecordLine> lines;
    flatten(record, "", lines);
    std::size_t width = 0;
    for (const auto& [key, value] : lines) {
        if (std::holds_alternative<std::string>(value)) {
            width = std::max(width, display_width(key) + 1);
        }
    }
    for (const auto& [key, value] : lines) {
        if (const auto* text = std::get_if<std::string>(&value)) {
            pad_to(out, key + ":", width + 1);
            out << printable(*text) << "\n";
        } else {
            out << key << ":\n";
            std::get<Table>(value).print(out, 2);
        }
    }
}

void print_json(std::ostream& out, const boost::json::value& value) {
    out << boost::json::serialize(value) << "\n";
}

} // namespace provisiond::cli
