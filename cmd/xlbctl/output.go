package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"xlb/controlplane/api"
)

// outputFlag adds -o text|json to cmd and returns where its value lands.
func outputFlag(cmd *cobra.Command) *string {
	var output string
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return &output
}

// checkOutput rejects an -o value other than text or json, before any
// request is made.
func checkOutput(output string) error {
	if output != "text" && output != "json" {
		return usageError{fmt.Errorf("-o %q: want text or json", output)}
	}
	return nil
}

// render writes v as indented JSON (the API's schema) for -o json, else as
// text writes it for a person.
func render(w io.Writer, output string, v any, text func(io.Writer) error) error {
	if output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	return text(w)
}

// newViewCommand is a command that fetches one view from xlbd and prints
// it: as indented JSON with -o json, else with print. get asks the API.
func newViewCommand[T any](use, short, long string, client func() *api.Client,
	withTimeout func(*cobra.Command) (context.Context, context.CancelFunc),
	get func(context.Context, *api.Client) (T, error), print func(io.Writer, T) error) *cobra.Command {
	var output *string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(*output); err != nil {
				return err
			}
			ctx, cancel := withTimeout(cmd)
			defer cancel()
			v, err := get(ctx, client())
			if err != nil {
				return err
			}
			return render(cmd.OutOrStdout(), *output, v, func(w io.Writer) error { return print(w, v) })
		},
	}
	output = outputFlag(cmd)
	return cmd
}
