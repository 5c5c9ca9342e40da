package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
)

// ErrUnreachable wraps errors reaching the daemon at all (no socket, no
// listener, permission): xlbctl exits 1 for them.
var ErrUnreachable = errors.New("xlbd unreachable")

// StatusError is an answer of the daemon with a non-2xx status.
type StatusError struct {
	Status  int
	Message string
}

func (e *StatusError) Error() string { return e.Message }

// Client talks to xlbd over its unix socket.
type Client struct {
	Socket string
	http   *http.Client
}

// NewClient returns a client for the daemon listening on socket.
func NewClient(socket string) *Client {
	return &Client{
		Socket: socket,
		http: &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", socket)
			},
		}},
	}
}

// Services lists every virtual service.
func (c *Client) Services(ctx context.Context) (Services, error) {
	var out Services
	err := c.do(ctx, http.MethodGet, PathServices, nil, &out)
	return out, err
}

// Reasons returns the data plane's packet counters by name.
func (c *Client) Reasons(ctx context.Context) (Reasons, error) {
	var out Reasons
	err := c.do(ctx, http.MethodGet, PathReasons, nil, &out)
	return out, err
}

// Checks returns the health checks' state.
func (c *Client) Checks(ctx context.Context) (Checks, error) {
	var out Checks
	err := c.do(ctx, http.MethodGet, PathChecks, nil, &out)
	return out, err
}

// VRRP returns the VRRP instances' state.
func (c *Client) VRRP(ctx context.Context) (VRRP, error) {
	var out VRRP
	err := c.do(ctx, http.MethodGet, PathVRRP, nil, &out)
	return out, err
}

// Explain asks which real the data plane sends client's flow to service
// ("VIP:PORT[/tcp|/udp]"), and why.
func (c *Client) Explain(ctx context.Context, service, client string) (Explanation, error) {
	var out Explanation
	q := url.Values{"service": {service}, "client": {client}}
	err := c.do(ctx, http.MethodGet, PathExplain+"?"+q.Encode(), nil, &out)
	return out, err
}

// SetWeight overrides a real's weight; it returns once the maps are written.
func (c *Client) SetWeight(ctx context.Context, req WeightRequest) (WeightResponse, error) {
	var out WeightResponse
	err := c.do(ctx, http.MethodPut, PathWeight, req, &out)
	return out, err
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	// The host part is ignored: the transport always dials the socket.
	req, err := http.NewRequestWithContext(ctx, method, "http://xlbd"+path, body)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w at %s: %w", ErrUnreachable, c.Socket, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read answer of %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e Error
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = fmt.Sprintf("%s %s: %s", method, path, resp.Status)
		}
		return &StatusError{Status: resp.StatusCode, Message: e.Error}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode answer of %s %s: %w", method, path, err)
	}
	return nil
}
