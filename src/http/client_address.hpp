#pragma once
// Who is on the other end of a request. Behind a TLS proxy every TCP peer is the proxy, so
// per-address limits would lump every person together (one attacker could lock everyone out).
// When the peer is a proxy the operator trusts, the client is the right-most address of the
// forwarding header that is not itself a trusted proxy; otherwise the header is ignored (anyone
// can send one).

#include "core/error.hpp"

#include <boost/asio/ip/address.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace provisiond::http {

/// The networks whose connections are proxies the operator runs (--trusted-proxies).
class TrustedProxies {
public:
    /// Parses CIDR blocks or single addresses ("10.0.0.0/8", "127.0.0.1", "::1/128");
    /// an error names the entry that is not one.
    static Result<TrustedProxies> parse(const std::vector<std::string>& entries);

    bool empty() const { return networks_.empty(); }
    bool contains(const boost::asio::ip::address& address) const;

private:
    struct Network {
        boost::asio::ip::address base;
        unsigned prefix = 0;
    };
    std::vector<Network> networks_;
};

/// An IP address as every limit and log line names it: an IPv4-mapped IPv6 peer (a dual-stack
/// listener's `::ffff:10.0.0.5`) is its IPv4 address; anything not an address is returned as is.
std::string canonical_ip(std::string_view address);

/// The key per-address limits count under: an IPv4 address itself, an IPv6 address's /64 (one
/// subscriber or host usually holds a whole /64, so counting single IPv6 addresses would give
/// an attacker 2^64 budgets).
std::string limit_key(std::string_view address);

/// Which header a trusted proxy puts the client's address in.
enum class ForwardedHeader { x_forwarded_for, forwarded };
std::optional<ForwardedHeader> parse_forwarded_header(std::string_view name);

/// The operator's proxy settings, parsed: which peers are proxies and which header they set.
struct ProxySettings {
    TrustedProxies trusted;
    ForwardedHeader header = ForwardedHeader::x_forwarded_for;
};
/// Parses --trusted-proxies and --trusted-proxy-header; the error names the bad entry.
Result<ProxySettings> parse_proxy_settings(const std::vector<std::string>& networks,
                                           std::string_view header);

/// The address a request comes from: `peer` unless it is a trusted proxy, else the right-most
/// untrusted entry of the forwarding header's values (in the order received). An entry that is
/// not an address ends the walk at the last trusted hop, which is then the answer.
std::string client_address(const std::string& peer,
                           const std::vector<std::string_view>& header_values,
                           ForwardedHeader header, const TrustedProxies& trusted);

} // namespace provisiond::http
