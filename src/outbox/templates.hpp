#pragma once
// Email templates (src/outbox/templates/*.mustache), embedded in the binary at build time by
// tools/embed_web_assets.cmake.

#include <map>
#include <string>
#include <string_view>

namespace provisiond::outbox {

const std::map<std::string, std::string_view>& embedded_assets();

} // namespace provisiond::outbox
