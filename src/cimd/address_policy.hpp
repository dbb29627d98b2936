#pragma once
// Which addresses and host names a metadata-document fetch may reach (RFC 6890 special-use
// ranges, internal names). docs/CIMD.md lists every range.

#include <boost/asio/ip/address.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace provisiond::cimd {

struct AddressPolicy {
    /// Test only: also allow 127.0.0.0/8 and ::1 (never anything else).
    bool allow_loopback = false;

    /// Why the address may not be fetched from, or nullopt when it may.
    std::optional<std::string> refusal(const boost::asio::ip::address& address) const;
};

/// Why a host name must not be resolved at all (localhost, *.internal, single labels, …), or
/// nullopt. IP literals are not names: check them with AddressPolicy.
std::optional<std::string> internal_name_refusal(std::string_view host);

} // namespace provisiond::cimd
