package main

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"

	"github.com/spf13/cobra"

	"xlb/health/check"
)

func newGenhashCommand() *cobra.Command {
	var virtualHost string
	var sni bool
	cmd := &cobra.Command{
		Use:   "genhash URL [--virtualhost NAME] [--sni]",
		Short: "print the digest of a URL's body, to put in an HTTP_GET or SSL_GET url block",
		Long: `genhash fetches URL (http://IP[:PORT]/PATH or https://...) the way HTTP_GET and
SSL_GET do — one GET over a new connection, redirects not followed — and prints
the MD5 digest of the body and the status, like keepalived's genhash. The host
must be an IP address, as a real server's is in keepalived.conf.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, u, err := genhashOptions(args[0], virtualHost, sni)
			if err != nil {
				return usageError{err}
			}
			c, err := check.NewHTTP(opts)
			if err != nil {
				return usageError{err}
			}
			// A digest of any value makes Fetch read and hash the body.
			u.Digest = "0"
			resp, err := c.Fetch(cmd.Context(), u)
			if err != nil {
				return fmt.Errorf("GET %s: %w", args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\nstatus_code %d\ndigest %s\n", args[0], resp.Status, resp.Digest)
			return nil
		},
	}
	cmd.Flags().StringVar(&virtualHost, "virtualhost", "", "Host header (and SNI name) to send")
	cmd.Flags().BoolVar(&sni, "sni", false, "send a server name in the TLS handshake (enable_sni)")
	return cmd
}

// genhashOptions reads raw as a URL of an HTTP or SSL check.
func genhashOptions(raw, virtualHost string, sni bool) (check.HTTPOptions, check.URL, error) {
	pu, err := url.Parse(raw)
	if err != nil {
		return check.HTTPOptions{}, check.URL{}, fmt.Errorf("URL %q: %w", raw, err)
	}
	port := uint16(80)
	var tlsOpts *check.TLSOptions
	switch pu.Scheme {
	case "http":
	case "https":
		port, tlsOpts = 443, &check.TLSOptions{SNI: sni}
	default:
		return check.HTTPOptions{}, check.URL{}, fmt.Errorf("URL %q: want http:// or https://", raw)
	}
	host := pu.Hostname()
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return check.HTTPOptions{}, check.URL{}, fmt.Errorf("URL %q: host %q: want an IP address", raw, host)
	}
	if p := pu.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return check.HTTPOptions{}, check.URL{}, fmt.Errorf("URL %q: port %q: want 1..65535", raw, p)
		}
		port = uint16(n)
	}
	path := pu.RequestURI()
	u := check.URL{Path: path}
	opts := check.HTTPOptions{
		Conn:        check.Conn{Addr: netip.AddrPortFrom(addr, port)},
		URLs:        []check.URL{u},
		VirtualHost: virtualHost,
		TLS:         tlsOpts,
	}
	return opts, u, nil
}
