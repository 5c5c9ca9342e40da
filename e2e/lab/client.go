package lab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"xlb/internal/nsrun"
)

// ClientOptions configure RunClient.
type ClientOptions struct {
	URL      string
	Count    int           // requests, each on a new TCP connection
	Parallel int           // connections in flight; 0 means 4
	Timeout  time.Duration // the whole run; 0 means 60 s
	// RequestTimeout bounds one request; 0 means 5 s, enough for one lost
	// SYN to be sent again (the first retransmission comes after 1 s).
	RequestTimeout time.Duration
}

// Report is what a client run saw, per server name. It is the JSON that
// `xlblab client --out json` prints.
type Report struct {
	URL        string           `json:"url"`
	Requests   int              `json:"requests"`
	Errors     int              `json:"errors"`
	FirstError string           `json:"first_error,omitempty"`
	ElapsedMS  int64            `json:"elapsed_ms"`
	Servers    map[string]*Seen `json:"servers"`
}

// Seen is what one server answered.
type Seen struct {
	Count int `json:"count"`
	// Peers are the distinct client addresses the server reported.
	Peers []netip.Addr `json:"peers"`
	// Translated counts replies whose address and port differ from the
	// client socket's own: someone rewrote the source on the way.
	Translated int `json:"translated"`
}

// OK returns the number of requests that got a well-formed reply.
func (r Report) OK() int {
	n := 0
	for _, s := range r.Servers {
		n += s.Count
	}
	return n
}

// Counts returns replies per server name.
func (r Report) Counts() map[string]int {
	m := make(map[string]int, len(r.Servers))
	for name, s := range r.Servers {
		m[name] = s.Count
	}
	return m
}

// RunClient sends opts.Count GET requests to opts.URL, each on a new TCP
// connection, and tallies who answered. A failed request is counted, not
// retried. It returns an error, along with the partial report, only when
// the run's deadline or ctx ends it early.
func RunClient(ctx context.Context, opts ClientOptions) (Report, error) {
	if opts.Count < 1 {
		return Report{}, fmt.Errorf("count: want at least 1, got %d", opts.Count)
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 4
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	tr := &http.Transport{DisableKeepAlives: true, Proxy: nil}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: opts.RequestTimeout}

	var (
		mu    sync.Mutex
		rep   = Report{URL: opts.URL, Servers: map[string]*Seen{}}
		jobs  = make(chan struct{})
		wg    sync.WaitGroup
		start = time.Now()
	)
	record := func(name string, peer, local netip.AddrPort, err error) {
		mu.Lock()
		defer mu.Unlock()
		rep.record(name, peer, local, err)
	}
	for range opts.Parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				name, peer, local, err := get(ctx, hc, opts.URL)
				record(name, peer, local, err)
			}
		}()
	}
feed:
	for range opts.Count {
		select {
		case jobs <- struct{}{}:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	rep.ElapsedMS = time.Since(start).Milliseconds()
	if rep.Requests < opts.Count {
		return rep, fmt.Errorf("stopped after %d of %d requests: %w", rep.Requests, opts.Count, ctx.Err())
	}
	return rep, nil
}

// get makes one request and returns who answered, the client address they
// saw and the local address of the connection it used.
func get(ctx context.Context, hc *http.Client, url string) (name string, peer, local netip.AddrPort, err error) {
	trace := &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) {
		if a, ok := ci.Conn.LocalAddr().(*net.TCPAddr); ok {
			local = a.AddrPort()
		}
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, url, nil)
	if err != nil {
		return "", peer, local, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", peer, local, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if err != nil {
		return "", peer, local, fmt.Errorf("read reply: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", peer, local, fmt.Errorf("status %s", resp.Status)
	}
	name, peer, err = ParseReply(string(body))
	if err != nil {
		return "", peer, local, err
	}
	// A v4 socket may report its address v4-mapped; compare plain v4.
	local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	peer = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
	if !local.IsValid() {
		return "", peer, local, errors.New("connection without a local address")
	}
	return name, peer, local, nil
}

// Measure runs `xlblab client` in the client's namespace and returns its
// report. The client's own deadline is opts.Timeout; the process is killed
// 10 s after it.
func (l *Lab) Measure(ctx context.Context, xlblab string, opts ClientOptions) (Report, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout+10*time.Second)
	defer cancel()
	args := []string{"netns", "exec", l.Client.NS, xlblab, "client",
		"--url", opts.URL, "--count", strconv.Itoa(opts.Count), "--out", "json",
		"--timeout", opts.Timeout.String()}
	if opts.Parallel > 0 {
		args = append(args, "--parallel", strconv.Itoa(opts.Parallel))
	}
	cmd := exec.CommandContext(ctx, "ip", args...)
	// On Ctrl-C or a deadline the client gets SIGTERM and prints what it
	// has; SIGKILL follows if it hangs.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	runErr := cmd.Run()
	if err := ctx.Err(); err != nil {
		return Report{}, fmt.Errorf("client: %w", err)
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		return Report{}, fmt.Errorf("client: %w (exit: %v): %s", err, runErr, strings.TrimSpace(errb.String()))
	}
	if runErr != nil {
		return rep, fmt.Errorf("client: %w: %s", runErr, strings.TrimSpace(errb.String()))
	}
	return rep, nil
}

// Post sends one POST request with a body of size bytes from inside node n
// to addr on a new connection and returns the name of the server that
// answered and the client address it saw. The server replies only once
// it has read the whole body, so a reply proves that full-sized segments
// (MSS-sized, as large as n's MTU allows) made it through.
func Post(n Node, addr netip.AddrPort, size int, timeout time.Duration) (name string, peer netip.AddrPort, err error) {
	if size < 0 || size > maxBody {
		return "", peer, fmt.Errorf("size: want 0..%d, got %d", maxBody, size)
	}
	return request(n, netip.Addr{}, http.MethodPost, addr, make([]byte, size), timeout)
}

// GetFrom sends one GET request from inside node n, from its address src,
// to addr on a new connection, and returns the name of the server that
// answered and the client address it saw.
func GetFrom(n Node, src netip.Addr, addr netip.AddrPort, timeout time.Duration) (name string, peer netip.AddrPort, err error) {
	return request(n, src, http.MethodGet, addr, nil, timeout)
}

// request makes one request on a new connection from inside node n (from
// src when valid, else the address the kernel picks) and parses the reply.
func request(n Node, src netip.Addr, method string, addr netip.AddrPort, body []byte, timeout time.Duration) (name string, peer netip.AddrPort, err error) {
	err = nsrun.DoNamed(n.NS, func() error {
		// The socket is made here, in n's namespace; http.Transport
		// would dial from another goroutine, on another thread.
		d := net.Dialer{Timeout: timeout}
		if src.IsValid() {
			d.LocalAddr = &net.TCPAddr{IP: src.AsSlice()}
		}
		c, err := d.Dial("tcp", addr.String())
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
			return err
		}
		req, err := http.NewRequest(method, "http://"+addr.String()+"/", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Close = true
		if err := req.Write(c); err != nil {
			return fmt.Errorf("send request: %w", err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), req)
		if err != nil {
			return fmt.Errorf("read reply: %w", err)
		}
		defer resp.Body.Close()
		reply, err := io.ReadAll(io.LimitReader(resp.Body, 1024))
		if err != nil {
			return fmt.Errorf("read reply: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %s: %s", resp.Status, reply)
		}
		name, peer, err = ParseReply(string(reply))
		return err
	})
	return name, peer, err
}

// record tallies one request: an error, or which server answered and the
// client address it saw (peer) against the one the client used (local).
func (rep *Report) record(name string, peer, local netip.AddrPort, err error) {
	rep.Requests++
	if err != nil {
		rep.Errors++
		if rep.FirstError == "" {
			rep.FirstError = err.Error()
		}
		return
	}
	s := rep.Servers[name]
	if s == nil {
		s = &Seen{}
		rep.Servers[name] = s
	}
	s.Count++
	if !slices.Contains(s.Peers, peer.Addr()) {
		s.Peers = append(s.Peers, peer.Addr())
		slices.SortFunc(s.Peers, netip.Addr.Compare)
	}
	if peer != local {
		s.Translated++
	}
}
