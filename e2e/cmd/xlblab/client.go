package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"xlb/e2e/lab"
)

func clientCmd() *cobra.Command {
	var (
		opts lab.ClientOptions
		out  string
	)
	cmd := &cobra.Command{
		Use:   "client --url http://198.18.0.100/ --count 1200",
		Short: "make COUNT requests, each on a new TCP connection, and count who answered",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out != "json" && out != "text" {
				return fmt.Errorf("out: want json or text, got %q", out)
			}
			rep, runErr := lab.RunClient(cmd.Context(), opts)
			if out == "json" {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				printReport(rep)
			}
			return runErr
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.URL, "url", "http://198.18.0.100/", "URL to GET")
	f.IntVar(&opts.Count, "count", 1200, "requests, each on a new connection")
	f.IntVar(&opts.Parallel, "parallel", 4, "connections in flight")
	f.DurationVar(&opts.Timeout, "timeout", 60*time.Second, "deadline for the whole run")
	f.DurationVar(&opts.RequestTimeout, "request-timeout", 5*time.Second, "deadline for one request")
	f.StringVar(&out, "out", "text", "output: text or json")
	return cmd
}

func printReport(rep lab.Report) {
	fmt.Printf("%d requests to %s in %d ms, %d errors\n", rep.Requests, rep.URL, rep.ElapsedMS, rep.Errors)
	if rep.FirstError != "" {
		fmt.Printf("first error: %s\n", rep.FirstError)
	}
	var names []string
	for n := range rep.Servers {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		s := rep.Servers[n]
		peers := make([]string, len(s.Peers))
		for i, p := range s.Peers {
			peers[i] = p.String()
		}
		fmt.Printf("  %-6s %5d  saw client %s (translated %d)\n", n, s.Count, strings.Join(peers, ","), s.Translated)
	}
}
