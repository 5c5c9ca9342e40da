package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// FormatReply is the body a lab server sends: its name and the client
// address and port it saw, "r1 198.18.0.10:43512\n". With direct routing
// the address is the client's own; a translating balancer would show its
// own address here instead.
func FormatReply(name string, peer netip.AddrPort) string {
	return name + " " + peer.String() + "\n"
}

// ParseReply reads a body written by FormatReply.
func ParseReply(body string) (name string, peer netip.AddrPort, err error) {
	line, ok := strings.CutSuffix(body, "\n")
	if !ok {
		return "", netip.AddrPort{}, fmt.Errorf("reply %q: no final newline", body)
	}
	name, addr, ok := strings.Cut(line, " ")
	if !ok || name == "" || strings.ContainsAny(name, " \n") {
		return "", netip.AddrPort{}, fmt.Errorf("reply %q: want \"NAME ADDR:PORT\"", body)
	}
	if peer, err = netip.ParseAddrPort(addr); err != nil {
		return "", netip.AddrPort{}, fmt.Errorf("reply %q: %w", body, err)
	}
	return name, peer, nil
}

// maxBody bounds what a server reads of one request's body.
const maxBody = 1 << 20

// Serve answers HTTP requests on ln with FormatReply(name, client)
// until ctx ends, then shuts down gracefully. Keep-alive is off: every
// request the lab counts is a connection the balancer placed.
func Serve(ctx context.Context, name string, ln net.Listener, log *slog.Logger) error {
	if name == "" || strings.ContainsAny(name, " \n") {
		return fmt.Errorf("name %q: want one word", name)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Read the whole body first: a reply then proves that every
			// segment of a large request arrived (Post).
			if _, err := io.Copy(io.Discard, io.LimitReader(r.Body, maxBody)); err != nil {
				http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
				return
			}
			peer, err := netip.ParseAddrPort(r.RemoteAddr)
			if err != nil {
				http.Error(w, "bad peer address", http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprint(w, FormatReply(name, peer))
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	srv.SetKeepAlivesEnabled(false)
	log.Info("serving", "name", name, "listen", ln.Addr().String())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	log.Info("stopped", "name", name)
	return err
}

// StartServers starts `xlblab serve --udp` on port 80 (TCP for HTTP and
// UDP) in every real, named after the real, and returns once each accepts
// connections from the client on its IPv4 and its IPv6 address (bounded to
// 10 s each): ":80" is one socket for both families.
func (l *Lab) StartServers(ctx context.Context, xlblab string) error {
	for _, r := range l.Reals {
		if err := l.StartServer(ctx, xlblab, r); err != nil {
			return err
		}
	}
	return nil
}

// StartServer starts real r's server as StartServers does, and returns once
// it answers.
func (l *Lab) StartServer(ctx context.Context, xlblab string, r Node) error {
	p, err := l.Start(r.Role, "ip", "netns", "exec", r.NS, xlblab, "serve", "--name", r.Role, "--listen", ":80", "--udp")
	if err != nil {
		return err
	}
	l.mu.Lock()
	if l.servers == nil {
		l.servers = map[string]*Proc{}
	}
	l.servers[r.Role] = p
	l.mu.Unlock()
	for _, a := range []netip.Addr{r.Addr, r.Addr6} {
		if err := l.waitListening(ctx, p, netip.AddrPortFrom(a, 80)); err != nil {
			return err
		}
	}
	return nil
}

// StopServer stops real r's server, as a crashed service would go: health
// checks then find the port closed.
func (l *Lab) StopServer(r Node) error {
	l.mu.Lock()
	p := l.servers[r.Role]
	delete(l.servers, r.Role)
	l.mu.Unlock()
	if p == nil {
		return fmt.Errorf("%s: no server running", r.Role)
	}
	if err := p.Stop(2 * time.Second); err != nil && !p.stopExpected(err) {
		return err
	}
	return nil
}

// waitListening dials addr from the client until it answers, p exits, or
// 10 s pass.
func (l *Lab) waitListening(ctx context.Context, p *Proc, addr netip.AddrPort) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		err := Dial(l.Client, addr, time.Second)
		if err == nil {
			return nil
		}
		select {
		case <-p.Done():
			return fmt.Errorf("%s exited: %v\n%s", p.Name, p.Err(), p.Tail(logTail))
		case <-ctx.Done():
			return fmt.Errorf("%s not listening on %s: %w\n%s", p.Name, addr, err, p.Tail(logTail))
		case <-time.After(50 * time.Millisecond):
		}
	}
}
