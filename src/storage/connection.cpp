#include "storage/connection.hpp"

#include <stdexcept>

namespace provisiond::storage {

std::int64_t Row::integer(std::size_t i) const {
    if (const auto* v = std::get_if<std::int64_t>(&columns_.at(i))) {
        return *v;
    }
    throw std::logic_error("column " + std::to_string(i) + " is not an integer");
}

std::string Row::text(std::size_t i) const {
    if (const auto* v = std::get_if<std::string>(&columns_.at(i))) {
        return *v;
    }
    if (const auto* v = std::get_if<std::int64_t>(&columns_.at(i))) {
        return std::to_string(*v);
    }
    throw std::logic_error("column " + std::to_string(i) + " is not text");
}

std::optional<std::string> Row::optional_text(std::size_t i) const {
    if (is_null(i)) {
        return std::nullopt;
    }
    return text(i);
}

std::optional<std::int64_t> Row::optional_integer(std::size_t i) const {
    if (is_null(i)) {
        return std::nullopt;
    }
    return integer(i);
}

bool is_storage_unavailable(const Error& error) {
    return error.code == ErrorCode::unavailable && error.message == storage_unavailable_message;
}

} // namespace provisiond::storage
