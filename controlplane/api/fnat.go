package api

import (
	"context"
	"net/http"
	"net/url"
)

// PathFNATClient answers which client a full-NAT flow belongs to, from
// what the real sees: GET ?real=RIP:PORT&local=LADDR:LPORT&protocol=tcp.
const PathFNATClient = "/v1/fnat-client"

// FNATClient is the answer of GET /v1/fnat-client: the client behind a
// local address and port that a real saw a connection from.
type FNATClient struct {
	Real     string  `json:"real"`     // RIP:PORT, as asked
	Local    string  `json:"local"`    // LADDR:LPORT, as asked
	Protocol string  `json:"protocol"` // tcp | udp
	Client   string  `json:"client"`   // the client's address and port
	Service  string  `json:"service"`  // VIP:PORT/proto the client connected to
	State    string  `json:"state"`    // syn | established | closing | udp
	IdleS    float64 `json:"idle_s"`   // seconds since the data plane last refreshed the flow
}

// FNATClient asks which client the full-NAT flow from local to real
// (protocol "tcp" or "udp") belongs to.
func (c *Client) FNATClient(ctx context.Context, real, local, protocol string) (FNATClient, error) {
	var out FNATClient
	q := url.Values{"real": {real}, "local": {local}, "protocol": {protocol}}
	err := c.do(ctx, http.MethodGet, PathFNATClient+"?"+q.Encode(), nil, &out)
	return out, err
}
