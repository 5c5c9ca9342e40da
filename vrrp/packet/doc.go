// Package packet encodes and decodes VRRP advertisements: version 2
// (RFC 3768) and version 3 (RFC 5798), over IPv4 and IPv6, with their
// checksums and the receive-side validation both RFCs require.
package packet
