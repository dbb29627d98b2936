#pragma once
// Page templates (src/web/templates/*.mustache) and static files (src/web/static/*), embedded in
// the binary at build time by tools/embed_web_assets.cmake.

#include <map>
#include <string>
#include <string_view>

namespace provisiond::web {

const std::map<std::string, std::string_view>& embedded_assets();

} // namespace provisiond::web
